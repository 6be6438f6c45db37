import { type AppleTestChain, createAppleTestChain, LocalOcspResponder, signAppleJws } from "@subgate/testing/apple";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { thrown } from "./fixtures/thrown.ts";
import { AppleJwsError, AppleJwsVerifier, type AppleJwsVerifierOptions } from "../src/apple/jws/index.ts";

const NOW = Math.floor(Date.now() / 1000) * 1000;

// Online, every chain verification asks OCSP twice (leaf, intermediate) and a cache hit asks nothing:
// the responder's request count shows what the cache did.
describe("AppleJwsVerifier chain cache", () => {
  let clock = NOW;
  const now = () => clock;
  const responder = new LocalOcspResponder({ now });
  const chains: AppleTestChain[] = [];
  let a: AppleTestChain;
  let b: AppleTestChain;
  let c: AppleTestChain;

  const verifierWith = (options: Partial<AppleJwsVerifierOptions>) =>
    new AppleJwsVerifier({ trustedRoots: [chains[0]?.rootDer ?? new Uint8Array()], onlineChecks: true, now, ...options });
  const requestsFor = async (verifier: AppleJwsVerifier, chain: AppleTestChain): Promise<number> => {
    const before = responder.requests.length;
    await verifier.verify(signAppleJws({ notificationType: "TEST", signedDate: clock }, chain));
    return responder.requests.length - before;
  };

  beforeAll(async () => {
    await responder.start();
    a = await createAppleTestChain({ ocspUrl: responder.url });
    b = await createAppleTestChain({ ocspUrl: responder.url, underRootOf: a });
    c = await createAppleTestChain({ ocspUrl: responder.url, underRootOf: a });
    chains.push(a, b, c);
    for (const chain of chains) responder.addChain(chain);
  });
  afterAll(() => responder.close());
  beforeEach(() => {
    clock = NOW;
  });

  it("verifies a chain once and reuses it", async () => {
    const verifier = verifierWith({});
    expect(await requestsFor(verifier, a)).toBe(2);
    expect(await requestsFor(verifier, a)).toBe(0);
    expect(await requestsFor(verifier, b)).toBe(2);
    expect(await requestsFor(verifier, a)).toBe(0);
    expect(await requestsFor(verifier, b)).toBe(0);
  });

  it("shares one OCSP round between concurrent JWS of a new chain", async () => {
    const verifier = verifierWith({});
    const before = responder.requests.length;
    await Promise.all([1, 2, 3].map(() => verifier.verify(signAppleJws({ signedDate: clock }, a))));
    expect(responder.requests.length - before).toBe(2);
  });

  it("is bounded: the oldest chain goes first", async () => {
    const verifier = verifierWith({ cacheSize: 2 });
    expect(await requestsFor(verifier, a)).toBe(2);
    expect(await requestsFor(verifier, b)).toBe(2);
    expect(await requestsFor(verifier, c)).toBe(2); // a is out
    expect(await requestsFor(verifier, b)).toBe(0);
    expect(await requestsFor(verifier, c)).toBe(0);
    expect(await requestsFor(verifier, a)).toBe(2); // b is out
    expect(await requestsFor(verifier, c)).toBe(0);
    expect(await requestsFor(verifier, b)).toBe(2);
  });

  it("expires entries after the TTL, on the injected clock", async () => {
    const verifier = verifierWith({ cacheTtlMs: 60_000 });
    expect(await requestsFor(verifier, a)).toBe(2);
    expect(await requestsFor(verifier, b)).toBe(2);
    clock = NOW + 59_999;
    // a is found first in the cache map, then as the previous JWS's header: both paths honour the TTL.
    expect(await requestsFor(verifier, a)).toBe(0);
    expect(await requestsFor(verifier, a)).toBe(0);
    clock = NOW + 60_000;
    expect(await requestsFor(verifier, a)).toBe(2);
    expect(await requestsFor(verifier, a)).toBe(0);
    expect(await requestsFor(verifier, b)).toBe(2);
  });

  it("keys entries by both certificates: a cached leaf under another intermediate is verified afresh", async () => {
    const verifier = new AppleJwsVerifier({ trustedRoots: [a.rootDer] });
    expect(verifier.verifySync(signAppleJws({ signedDate: NOW }, a))).toBeTruthy();
    const mixed = signAppleJws({ signedDate: NOW }, a, { x5c: [a.leaf.base64, b.intermediate.base64, a.root.base64] });
    expect(thrown(AppleJwsError, () => verifier.verifySync(mixed)).reason).toBe("the leaf certificate is not issued by the intermediate");
  });

  it("rejects nonsensical cache settings", () => {
    expect(() => verifierWith({ cacheSize: 0 })).toThrow(/cacheSize must be a positive integer/);
    expect(() => verifierWith({ cacheTtlMs: -1 })).toThrow(/cacheTtlMs must be a positive integer/);
  });
});
