import { generateKeyPairSync } from "node:crypto";
import { type AppleTestChain, createAppleTestChain, signAppleJws } from "@subgate/testing/apple";
import { beforeAll, describe, expect, it } from "vitest";
import { thrown } from "./fixtures/thrown.ts";
import { AppleJwsError, type AppleJwsFailure, AppleJwsVerifier } from "../src/apple/jws/index.ts";

const payload = () => ({ notificationType: "TEST", notificationUUID: "3b8f4a4c-2a8e-4a44-9a3a-4b0e0a6f7c11", signedDate: Date.now() });

const refusal = (verifier: AppleJwsVerifier, jws: string): AppleJwsError => thrown(AppleJwsError, () => verifier.verifySync(jws));

function expectRefused(verifier: AppleJwsVerifier, jws: string, failure: AppleJwsFailure, reason: RegExp): void {
  const error = refusal(verifier, jws);
  expect(error.failure).toBe(failure);
  expect(error.reason).toMatch(reason);
}

/** Replaces one character of a base64url segment by another valid one. */
function flipChar(segment: string, index: number): string {
  const c = segment[index];
  return segment.slice(0, index) + (c === "A" ? "B" : "A") + segment.slice(index + 1);
}

describe("AppleJwsVerifier: chain and signature rules", () => {
  let chain: AppleTestChain;
  let verifier: AppleJwsVerifier;

  beforeAll(async () => {
    chain = await createAppleTestChain();
    verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
  });

  it("verifies a JWS over a valid chain and returns its payload", async () => {
    const body = payload();
    const jws = signAppleJws(body, chain);
    expect(verifier.verifySync(jws)).toEqual(body);
    await expect(verifier.verify(jws)).resolves.toEqual(body);
  });

  it("verifies under any of several trusted roots", async () => {
    const other = await createAppleTestChain();
    const twoRoots = new AppleJwsVerifier({ trustedRoots: [other.rootDer, chain.rootDer] });
    expect(twoRoots.verifySync(signAppleJws(payload(), chain))).toMatchObject({ notificationType: "TEST" });
  });

  it("refuses a chain under a root that is not trusted, even with that root in x5c", async () => {
    const stranger = await createAppleTestChain();
    expectRefused(verifier, signAppleJws(payload(), stranger), "unauthenticated", /does not end at a trusted root/);
    // x5c[2] is never trusted: the configured root in third place changes nothing.
    const withTrustedRootText = signAppleJws(payload(), stranger, {
      x5c: [stranger.leaf.base64, stranger.intermediate.base64, chain.root.base64],
    });
    expectRefused(verifier, withTrustedRootText, "unauthenticated", /does not end at a trusted root/);
  });

  it("ignores x5c[2]: a chain verifies whatever the third certificate is", () => {
    const jws = signAppleJws(payload(), chain, { x5c: [chain.leaf.base64, chain.intermediate.base64, chain.leaf.base64] });
    expect(verifier.verifySync(jws)).toMatchObject({ notificationType: "TEST" });
  });

  it("requires exactly 3 certificates in x5c", () => {
    const two = signAppleJws(payload(), chain, { x5c: [chain.leaf.base64, chain.intermediate.base64] });
    expectRefused(verifier, two, "malformed", /^x5c must hold 3 certificates, got 2$/);
    const four = signAppleJws(payload(), chain, { x5c: [...chain.x5c, chain.root.base64] });
    expectRefused(verifier, four, "malformed", /^x5c must hold 3 certificates, got 4$/);
    expectRefused(verifier, signAppleJws(payload(), chain, { header: { x5c: undefined } }), "malformed", /no x5c/);
    expectRefused(verifier, signAppleJws(payload(), chain, { x5c: "not a list" }), "malformed", /no x5c/);
    expectRefused(verifier, signAppleJws(payload(), chain, { x5c: [1, 2, 3] }), "malformed", /x5c entries must be base64 strings/);
  });

  it("requires x5c entries in standard base64 of a DER certificate", () => {
    const urlSafe = chain.leaf.base64.replaceAll("+", "-").replaceAll("/", "_");
    expect(urlSafe).not.toBe(chain.leaf.base64);
    const asBase64Url = signAppleJws(payload(), chain, { x5c: [urlSafe, chain.intermediate.base64, chain.root.base64] });
    expectRefused(verifier, asBase64Url, "malformed", /leaf certificate is not base64/);
    const notDer = signAppleJws(payload(), chain, {
      x5c: [chain.leaf.base64, Buffer.from("not a certificate").toString("base64"), chain.root.base64],
    });
    expectRefused(verifier, notDer, "malformed", /intermediate certificate is not a DER X.509 certificate/);
    const trailing = Buffer.concat([chain.leaf.der, Buffer.from([0])]).toString("base64");
    const withTrailingByte = signAppleJws(payload(), chain, { x5c: [trailing, chain.intermediate.base64, chain.root.base64] });
    expectRefused(verifier, withTrailingByte, "malformed", /leaf certificate is not a DER X.509 certificate/);
  });

  it("requires Apple's OID on the leaf", async () => {
    const noLeafOid = await createAppleTestChain({ leafOid: false, underRootOf: chain });
    expectRefused(
      verifier,
      signAppleJws(payload(), noLeafOid),
      "unauthenticated",
      /^the leaf certificate lacks Apple's OID 1\.2\.840\.113635\.100\.6\.11\.1$/,
    );
  });

  it("requires Apple's OID on the intermediate", async () => {
    const noIntermediateOid = await createAppleTestChain({ intermediateOid: false, underRootOf: chain });
    expectRefused(
      verifier,
      signAppleJws(payload(), noIntermediateOid),
      "unauthenticated",
      /^the intermediate certificate lacks Apple's OID 1\.2\.840\.113635\.100\.6\.2\.1$/,
    );
  });

  it("requires the intermediate to be a CA", async () => {
    const notCa = await createAppleTestChain({ intermediateIsCa: false, underRootOf: chain });
    expectRefused(verifier, signAppleJws(payload(), notCa), "unauthenticated", /intermediate certificate is not a CA/);
  });

  it("requires the leaf to be signed by the intermediate", async () => {
    const forged = await createAppleTestChain({ leafSignedByStranger: true, underRootOf: chain });
    expectRefused(verifier, signAppleJws(payload(), forged), "unauthenticated", /leaf certificate is not issued by the intermediate/);
    // A genuine leaf of one chain under the intermediate of another (same root) is refused too.
    const sibling = await createAppleTestChain({ underRootOf: chain });
    const mixed = signAppleJws(payload(), chain, { x5c: [chain.leaf.base64, sibling.intermediate.base64, chain.root.base64] });
    expectRefused(verifier, mixed, "unauthenticated", /leaf certificate is not issued by the intermediate/);
  });

  it("refuses a tampered payload", () => {
    const [header, , signature] = signAppleJws(payload(), chain).split(".") as [string, string, string];
    const tampered = Buffer.from(JSON.stringify({ ...payload(), notificationType: "REFUND" })).toString("base64url");
    expectRefused(verifier, `${header}.${tampered}.${signature}`, "unauthenticated", /^the JWS signature does not verify$/);
  });

  it("refuses a tampered or mis-sized signature", () => {
    const [header, body, signature] = signAppleJws(payload(), chain).split(".") as [string, string, string];
    expectRefused(verifier, `${header}.${body}.${flipChar(signature, 10)}`, "unauthenticated", /^the JWS signature does not verify$/);
    // Signed by a key other than the leaf's.
    const otherKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    expectRefused(
      verifier,
      signAppleJws(payload(), chain, { signingKey: otherKey }),
      "unauthenticated",
      /^the JWS signature does not verify$/,
    );
    // ECDSA DER instead of JWS's raw r || s.
    const der = Buffer.alloc(70, 1).toString("base64url");
    expectRefused(verifier, `${header}.${body}.${der}`, "malformed", /not 64 bytes/);
    expectRefused(verifier, `${header}.${body}.${signature.slice(0, 85)}B`, "malformed", /not canonical base64url/);
  });

  it("refuses alg none", () => {
    const jws = signAppleJws(payload(), chain, { alg: "none" });
    expect(jws.endsWith(".")).toBe(true);
    expectRefused(verifier, jws, "unauthenticated", /^the JWS alg must be ES256, got "none"$/);
    expectRefused(
      verifier,
      signAppleJws(payload(), chain, { header: { alg: undefined } }),
      "unauthenticated",
      /alg must be ES256, got none given/,
    );
  });

  it("refuses HS256 keyed with the leaf's public key", () => {
    expectRefused(verifier, signAppleJws(payload(), chain, { alg: "HS256" }), "unauthenticated", /alg must be ES256, got "HS256"/);
  });

  it("refuses ES384, even from a P-384 leaf the intermediate issued", async () => {
    const p384 = await createAppleTestChain({ leafCurve: "P-384", underRootOf: chain });
    expectRefused(verifier, signAppleJws(payload(), p384, { alg: "ES384" }), "unauthenticated", /alg must be ES256, got "ES384"/);
    // Claiming ES256 does not help a P-384 leaf.
    expectRefused(verifier, signAppleJws(payload(), p384, { alg: "ES256" }), "unauthenticated", /not an EC P-256 key/);
  });

  it("refuses header extensions it does not understand (crit)", () => {
    expectRefused(verifier, signAppleJws(payload(), chain, { header: { crit: ["b64"], b64: false } }), "malformed", /crit/);
  });
});
