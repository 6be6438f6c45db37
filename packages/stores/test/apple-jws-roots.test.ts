import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createAppleTestChain, signAppleJws } from "@subgate/testing/apple";
import { afterAll, describe, expect, it } from "vitest";
import { AppleJwsError, AppleJwsVerifier, DEFAULT_APPLE_ROOT_CA_G3_PATH, loadTrustedRoots } from "../src/apple/jws/index.ts";

const APPLE_ROOT_G3_SHA256 = "63:34:3A:BF:B8:9A:6A:03:EB:B5:7E:9B:3F:5F:A7:BE:7C:4F:5C:75:6F:30:17:B3:A8:C4:88:C3:65:3E:91:79";

describe("trusted roots", () => {
  const dir = mkdtempSync(join(tmpdir(), "subgate-roots-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("ships Apple Root CA - G3 with Apple's published SHA-256 fingerprint", () => {
    const [der] = loadTrustedRoots(DEFAULT_APPLE_ROOT_CA_G3_PATH);
    const fingerprint = createHash("sha256").update(der!).digest("hex").toUpperCase().match(/../g)!.join(":");
    expect(fingerprint).toBe(APPLE_ROOT_G3_SHA256);
    expect(new X509Certificate(der!).subject).toContain("CN=Apple Root CA - G3");
  });

  it("does not trust test chains under Apple's root", async () => {
    const chain = await createAppleTestChain();
    const verifier = new AppleJwsVerifier({ trustedRoots: loadTrustedRoots(DEFAULT_APPLE_ROOT_CA_G3_PATH) });
    expect(() => verifier.verifySync(signAppleJws({ signedDate: Date.now() }, chain))).toThrow(AppleJwsError);
  });

  it("reads PEM and DER files, file URLs, PEM text and bytes", async () => {
    const chain = await createAppleTestChain();
    const pemPath = join(dir, "root.pem");
    const derPath = join(dir, "root.der");
    writeFileSync(pemPath, chain.root.pem);
    writeFileSync(derPath, chain.root.der);
    const loaded = loadTrustedRoots(pemPath, derPath, pathToFileURL(pemPath), chain.root.pem, chain.root.der, Buffer.from(chain.root.pem));
    expect(loaded).toHaveLength(6);
    for (const der of loaded) expect(Buffer.from(der).equals(chain.root.der)).toBe(true);
    expect(new AppleJwsVerifier({ trustedRoots: loaded }).verifySync(signAppleJws({ signedDate: Date.now() }, chain))).toBeTruthy();
  });

  it("names the file it cannot use", () => {
    const missing = join(dir, "missing.pem");
    expect(() => loadTrustedRoots(missing)).toThrow(`trusted root ${missing}: cannot be read (ENOENT)`);
    const junk = join(dir, "junk.der");
    writeFileSync(junk, "not a certificate");
    expect(() => loadTrustedRoots(junk)).toThrow(new RegExp(`^trusted root ${junk.replaceAll("/", "\\/")}: not an X.509 certificate`));
    const key = join(dir, "key.pem");
    writeFileSync(key, "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n");
    expect(() => loadTrustedRoots(key)).toThrow(`trusted root ${key}: expected one PEM CERTIFICATE block, found 0`);
  });

  it("wants one certificate per file", async () => {
    const chain = await createAppleTestChain();
    const bundle = join(dir, "bundle.pem");
    writeFileSync(bundle, chain.root.pem + chain.intermediate.pem);
    expect(() => loadTrustedRoots(bundle)).toThrow(`trusted root ${bundle}: expected one PEM CERTIFICATE block, found 2`);
  });

  it("refuses to build a verifier without roots or with a root that is not a certificate", () => {
    expect(() => new AppleJwsVerifier({ trustedRoots: [] })).toThrow(/at least one trusted root/);
    expect(() => new AppleJwsVerifier({ trustedRoots: [new Uint8Array([1, 2, 3])] })).toThrow(
      /trusted root #0 is not a DER X.509 certificate/,
    );
  });
});
