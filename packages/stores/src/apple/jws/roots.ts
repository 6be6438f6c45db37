import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Apple Root CA - G3, the root of every App Store signed payload, shipped with subgate
 * (SHA-256 fingerprint 63:34:3A:BF:B8:9A:6A:03:EB:B5:7E:9B:3F:5F:A7:BE:7C:4F:5C:75:6F:30:17:B3:A8:C4:88:C3:65:3E:91:79).
 */
export const DEFAULT_APPLE_ROOT_CA_G3_PATH: string = fileURLToPath(new URL("../AppleRootCA-G3.pem", import.meta.url));

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;

/** Where a root comes from: a file path or file: URL, PEM text, or the bytes of a DER or PEM certificate. */
export type TrustedRootSource = string | URL | Uint8Array;

/**
 * Reads trusted roots into DER, each source holding exactly one certificate, PEM or DER. Throws an
 * Error naming the source when it cannot be read or is not a certificate, so a misconfigured root
 * fails at startup rather than as refused notifications.
 */
export function loadTrustedRoots(...sources: TrustedRootSource[]): Uint8Array[] {
  return sources.map((source) => {
    const { label, bytes } = read(source);
    const text = bytes.toString("latin1");
    let der: Uint8Array = bytes;
    if (text.includes("-----BEGIN")) {
      const blocks = [...text.matchAll(PEM_BLOCK)];
      if (blocks.length !== 1) {
        throw new Error(`trusted root ${label}: expected one PEM CERTIFICATE block, found ${blocks.length}`);
      }
      der = Buffer.from((blocks[0]?.[1] ?? "").replace(/\s+/g, ""), "base64");
    }
    try {
      const cert = new X509Certificate(der);
      if (cert.raw.byteLength !== der.byteLength) throw new Error("trailing bytes after the certificate");
    } catch (error) {
      throw new Error(`trusted root ${label}: not an X.509 certificate (${error instanceof Error ? error.message : String(error)})`);
    }
    return new Uint8Array(der);
  });
}

function read(source: TrustedRootSource): { label: string; bytes: Buffer } {
  if (source instanceof Uint8Array) return { label: "(bytes)", bytes: Buffer.from(source) };
  if (typeof source === "string" && source.trimStart().startsWith("-----BEGIN")) return { label: "(PEM text)", bytes: Buffer.from(source) };
  const path = source instanceof URL ? fileURLToPath(source) : source;
  try {
    return { label: path, bytes: readFileSync(path) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`trusted root ${path}: cannot be read (${code ?? (error instanceof Error ? error.message : String(error))})`);
  }
}
