// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API
// installed before the library is evaluated: this import must stay above the x509 one.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

// Node 20 has WebCrypto on globalThis; name it explicitly rather than rely on detection.
x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

/** Apple's marker extension on the App Store's receipt signing leaf certificates. */
export const APPLE_LEAF_OID = "1.2.840.113635.100.6.11.1";
/** Apple's marker extension on the Worldwide Developer Relations intermediate CA. */
export const APPLE_INTERMEDIATE_OID = "1.2.840.113635.100.6.2.1";

export type TestCurve = "P-256" | "P-384";

export function generateEcKeyPair(curve: TestCurve = "P-256"): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"]);
}

export function signingAlgorithmFor(key: webcrypto.CryptoKey): webcrypto.EcdsaParams {
  const curve = (key.algorithm as webcrypto.EcKeyAlgorithm).namedCurve;
  return { name: "ECDSA", hash: curve === "P-384" ? "SHA-384" : "SHA-256" };
}

/** A random positive serial number, as CAs issue them. */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString("hex");
}

export function pemOf(der: Uint8Array, label = "CERTIFICATE"): string {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
