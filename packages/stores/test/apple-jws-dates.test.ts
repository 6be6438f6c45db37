import { type AppleTestChain, createAppleTestChain, signAppleJws } from "@subgate/testing/apple";
import { beforeAll, describe, expect, it } from "vitest";
import { thrown } from "./fixtures/thrown.ts";
import { AppleJwsError, AppleJwsVerifier } from "../src/apple/jws/index.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Certificate times have whole seconds.
const NOW = Math.floor(Date.now() / 1000) * 1000;

const refusal = (run: () => unknown): AppleJwsError => thrown(AppleJwsError, run);

const notification = (signedDate: unknown) => ({ notificationType: "DID_RENEW", signedDate });

describe("AppleJwsVerifier offline: certificate validity at signedDate", () => {
  // A leaf that expired yesterday, after a year of service.
  const leafFrom = NOW - 365 * DAY;
  const leafTo = NOW - DAY;
  let chain: AppleTestChain;

  beforeAll(async () => {
    chain = await createAppleTestChain({ validity: { leaf: { notBefore: new Date(leafFrom), notAfter: new Date(leafTo) } } });
  });

  it("verifies a notification signed while the leaf was valid, after the leaf expired", () => {
    const verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
    expect(verifier.verifySync(signAppleJws(notification(leafTo - HOUR), chain))).toEqual(notification(leafTo - HOUR));
  });

  it("refuses a notification signed after the leaf expired", () => {
    const verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
    const error = refusal(() => verifier.verifySync(signAppleJws(notification(leafTo + 2 * HOUR), chain)));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/certificate chain is not valid at the payload's signedDate/);
  });

  it("refuses a notification signed before the leaf was issued", () => {
    const verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
    expect(refusal(() => verifier.verifySync(signAppleJws(notification(leafFrom - HOUR), chain))).failure).toBe("unauthenticated");
  });

  it("checks the intermediate's and the root's validity too", async () => {
    const oldIntermediate = await createAppleTestChain({
      validity: { intermediate: { notBefore: new Date(NOW - 10 * DAY), notAfter: new Date(NOW - 5 * DAY) } },
    });
    const verifier = new AppleJwsVerifier({ trustedRoots: [oldIntermediate.rootDer] });
    expect(verifier.verifySync(signAppleJws(notification(NOW - 6 * DAY), oldIntermediate))).toBeTruthy();
    expect(refusal(() => verifier.verifySync(signAppleJws(notification(NOW - 4 * DAY), oldIntermediate))).failure).toBe("unauthenticated");

    const oldRoot = await createAppleTestChain({
      validity: { root: { notBefore: new Date(NOW - 10 * DAY), notAfter: new Date(NOW - 5 * DAY) } },
    });
    const rootVerifier = new AppleJwsVerifier({ trustedRoots: [oldRoot.rootDer] });
    expect(rootVerifier.verifySync(signAppleJws(notification(NOW - 6 * DAY), oldRoot))).toBeTruthy();
    expect(refusal(() => rootVerifier.verifySync(signAppleJws(notification(NOW - 4 * DAY), oldRoot))).failure).toBe("unauthenticated");
  });

  it("requires a numeric signedDate", () => {
    const verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
    for (const signedDate of [undefined, "1700000000000", null, Number.NaN]) {
      const error = refusal(() => verifier.verifySync(signAppleJws(notification(signedDate), chain)));
      expect(error.failure).toBe("malformed");
      expect(error.reason).toBe("the payload's signedDate is missing or not a number");
    }
  });
});

describe("AppleJwsVerifier offline: a cached chain still checks each JWS's date", () => {
  const leafFrom = NOW - 30 * DAY;
  const leafTo = NOW - DAY;
  let chain: AppleTestChain;
  let other: AppleTestChain;

  beforeAll(async () => {
    const validity = { leaf: { notBefore: new Date(leafFrom), notAfter: new Date(leafTo) } };
    chain = await createAppleTestChain({ validity });
    other = await createAppleTestChain({ underRootOf: chain });
  });

  for (const interleaved of [false, true]) {
    // Interleaving another chain makes the second JWS find its chain in the cache map rather than
    // as the previous JWS's header.
    it(`allows 60 s of skew past notAfter and refuses beyond it${interleaved ? " (another chain in between)" : ""}`, () => {
      const verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
      const between = () => interleaved && verifier.verifySync(signAppleJws(notification(NOW), other));
      expect(verifier.verifySync(signAppleJws(notification(leafTo - HOUR), chain))).toBeTruthy();
      between();
      expect(verifier.verifySync(signAppleJws(notification(leafTo + 59_000), chain))).toBeTruthy();
      between();
      const error = refusal(() => verifier.verifySync(signAppleJws(notification(leafTo + 61_000), chain)));
      expect(error.failure).toBe("unauthenticated");
      expect(error.reason).toMatch(/not valid at the payload's signedDate/);
      between();
      // And on the notBefore side.
      expect(verifier.verifySync(signAppleJws(notification(leafFrom - 59_000), chain))).toBeTruthy();
      between();
      expect(refusal(() => verifier.verifySync(signAppleJws(notification(leafFrom - 61_000), chain))).failure).toBe("unauthenticated");
      // The chain stays usable for JWS in its window.
      expect(verifier.verifySync(signAppleJws(notification(leafTo - 2 * HOUR), chain))).toBeTruthy();
    });
  }

  it("caches a chain first met with an out-of-window JWS, and still checks the next one", () => {
    const verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
    expect(refusal(() => verifier.verifySync(signAppleJws(notification(leafTo + DAY), chain))).failure).toBe("unauthenticated");
    expect(verifier.verifySync(signAppleJws(notification(leafTo - HOUR), chain))).toBeTruthy();
    expect(refusal(() => verifier.verifySync(signAppleJws(notification(leafTo + DAY), chain))).failure).toBe("unauthenticated");
  });

  it("never lets a cached chain vouch for a bad signature", () => {
    const verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
    const good = signAppleJws(notification(leafTo - HOUR), chain);
    expect(verifier.verifySync(good)).toBeTruthy();
    const [header, , signature] = good.split(".");
    const forged = `${header}.${Buffer.from(JSON.stringify(notification(leafTo - 2 * HOUR))).toString("base64url")}.${signature}`;
    expect(refusal(() => verifier.verifySync(forged)).reason).toBe("the JWS signature does not verify");
  });
});
