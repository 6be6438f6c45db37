import { createServer, type AddressInfo } from "node:net";
import { type AppleTestChain, createAppleTestChain, LocalOcspResponder, signAppleJws } from "@subgate/testing/apple";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { rejected } from "./fixtures/thrown.ts";
import { AppleJwsError, AppleJwsVerifier, type AppleJwsVerifierOptions } from "../src/apple/jws/index.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Math.floor(Date.now() / 1000) * 1000;
/** A port that was free a moment ago: connections to it are refused at once. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/ocsp`;
}

const refusal = (promise: Promise<unknown>): Promise<AppleJwsError> => rejected(AppleJwsError, promise);

const notification = (signedDate = NOW) => ({ notificationType: "DID_RENEW", signedDate });

describe("AppleJwsVerifier online: OCSP", () => {
  const responder = new LocalOcspResponder();
  let chain: AppleTestChain;
  const online = (options: Partial<AppleJwsVerifierOptions> = {}) =>
    new AppleJwsVerifier({ trustedRoots: [chain.rootDer], onlineChecks: true, ocspTimeoutMs: 2_000, ...options });

  beforeAll(async () => {
    await responder.start();
    chain = await createAppleTestChain({ ocspUrl: responder.url });
    responder.addChain(chain);
  });
  afterAll(() => responder.close());
  afterEach(() => {
    responder.setStatus(chain.leaf, "good").setStatus(chain.intermediate, "good");
    Object.assign(responder, { httpStatus: null, signer: "issuer", corruptSignature: false, times: {}, responseStatus: 0, delayMs: 0 });
    responder.requests.length = 0;
  });

  it("verifies when both certificates are good, asking the responders the certificates name", async () => {
    await expect(online().verify(signAppleJws(notification(), chain))).resolves.toEqual(notification());
    expect(responder.requests).toHaveLength(2);
    for (const request of responder.requests)
      expect(request).toMatchObject({ method: "POST", path: "/ocsp", contentType: "application/ocsp-request" });
    expect(responder.requests.map((request) => request.serialNumbers[0]).sort()).toEqual(
      [chain.leaf.x509.serialNumber, chain.intermediate.x509.serialNumber].map((serial) => serial.toLowerCase()).sort(),
    );
  });

  it("refuses verifySync when online checks are on", () => {
    expect(() => online().verifySync(signAppleJws(notification(), chain))).toThrow(/online checks are on/);
  });

  for (const which of ["leaf", "intermediate"] as const) {
    it(`refuses a revoked ${which}`, async () => {
      responder.setStatus(chain[which], "revoked");
      const error = await refusal(online().verify(signAppleJws(notification(), chain)));
      expect(error.failure).toBe("unauthenticated");
      expect(error.reason).toBe(`OCSP (${which}): the certificate is revoked`);
    });

    it(`refuses a ${which} whose status is unknown`, async () => {
      responder.setStatus(chain[which], "unknown");
      const error = await refusal(online().verify(signAppleJws(notification(), chain)));
      expect(error.failure).toBe("unauthenticated");
      expect(error.reason).toBe(`OCSP (${which}): the certificate's status is unknown`);
    });
  }

  it("is retryable when the responder answers HTTP 500", async () => {
    responder.httpStatus = 500;
    const error = await refusal(online().verify(signAppleJws(notification(), chain)));
    expect(error.failure).toBe("retryable");
    expect(error.reason).toMatch(/^OCSP responder unreachable for the (leaf|intermediate) certificate: HTTP 500$/);
  });

  it("is retryable when the responder says tryLater", async () => {
    responder.responseStatus = 3;
    expect((await refusal(online().verify(signAppleJws(notification(), chain)))).failure).toBe("retryable");
  });

  it("is retryable when the responder does not answer in time", async () => {
    responder.delayMs = 1_500;
    const error = await refusal(online({ ocspTimeoutMs: 200 }).verify(signAppleJws(notification(), chain)));
    expect(error.failure).toBe("retryable");
    expect(error.reason).toMatch(/no answer within 200 ms/);
  });

  it("asks about the leaf and the intermediate in parallel", async () => {
    responder.delayMs = 400;
    const started = performance.now();
    await online().verify(signAppleJws(notification(), chain));
    expect(responder.requests).toHaveLength(2);
    expect(performance.now() - started).toBeLessThan(750);
  });

  it("prefers a definite refusal over a retryable one", async () => {
    const split = await createAppleTestChain({ ocspUrl: { leaf: responder.url, intermediate: await deadUrl() }, underRootOf: chain });
    responder.addIssuer(split.intermediate);
    expect((await refusal(online().verify(signAppleJws(notification(), split)))).failure).toBe("retryable");
    responder.setStatus(split.leaf, "revoked");
    const error = await refusal(online().verify(signAppleJws(notification(), split)));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toBe("OCSP (leaf): the certificate is revoked");
  });

  it("refuses an answer whose signature does not verify", async () => {
    responder.corruptSignature = true;
    const error = await refusal(online().verify(signAppleJws(notification(), chain)));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/the response signature does not verify/);
  });

  it("refuses an answer signed by a key the issuer never certified", async () => {
    responder.signer = "stranger";
    expect((await refusal(online().verify(signAppleJws(notification(), chain)))).reason).toMatch(/signature does not verify/);
  });

  it("accepts a responder the issuer delegated with id-kp-OCSPSigning, and refuses one without", async () => {
    responder.signer = "delegated";
    await expect(online().verify(signAppleJws(notification(), chain))).resolves.toBeTruthy();
    responder.signer = "delegated-without-eku";
    const error = await refusal(online().verify(signAppleJws(notification(), chain)));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/lacks the id-kp-OCSPSigning EKU/);
  });

  it("refuses stale answers and answers from the future (60 s skew)", async () => {
    responder.times = { thisUpdate: new Date(Date.now() - 2 * HOUR), nextUpdate: new Date(Date.now() - 2 * 60_000) };
    expect((await refusal(online().verify(signAppleJws(notification(), chain)))).reason).toMatch(/stale/);
    responder.times = { thisUpdate: new Date(Date.now() - 2 * HOUR), nextUpdate: new Date(Date.now() - 30_000) };
    await expect(online().verify(signAppleJws(notification(), chain))).resolves.toBeTruthy();
    responder.times = { thisUpdate: new Date(Date.now() + 5 * 60_000) };
    expect((await refusal(online().verify(signAppleJws(notification(), chain)))).reason).toMatch(/thisUpdate is in the future/);
    responder.times = { nextUpdate: null };
    expect((await refusal(online().verify(signAppleJws(notification(), chain)))).reason).toMatch(/no nextUpdate/);
  });

  it("uses the configured responder instead of the certificates' own", async () => {
    const elsewhere = await createAppleTestChain({ ocspUrl: await deadUrl(), underRootOf: chain });
    responder.addIssuer(elsewhere.intermediate);
    const error = await refusal(online().verify(signAppleJws(notification(), elsewhere)));
    expect(error.failure).toBe("retryable");
    expect(error.reason).toMatch(/ECONNREFUSED/);
    expect(responder.requests).toHaveLength(0);

    await expect(online({ ocspUrl: responder.url }).verify(signAppleJws(notification(), elsewhere))).resolves.toBeTruthy();
    expect(responder.requests).toHaveLength(2);
  });

  it("refuses a certificate that names no responder when none is configured", async () => {
    const silent = await createAppleTestChain({ underRootOf: chain });
    const error = await refusal(online().verify(signAppleJws(notification(), silent)));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/names no OCSP responder/);
  });
});

describe("AppleJwsVerifier online: an unreachable responder", () => {
  it("is retryable once the responder is closed", async () => {
    const responder = await new LocalOcspResponder().start();
    const chain = await createAppleTestChain({ ocspUrl: responder.url });
    responder.addChain(chain);
    const verifier = () => new AppleJwsVerifier({ trustedRoots: [chain.rootDer], onlineChecks: true });
    await expect(verifier().verify(signAppleJws(notification(), chain))).resolves.toBeTruthy();
    await responder.close();
    const error = await refusal(verifier().verify(signAppleJws(notification(), chain)));
    expect(error.failure).toBe("retryable");
    expect(error.reason).toMatch(/^OCSP responder unreachable for the (leaf|intermediate) certificate: /);
  });
});

describe("AppleJwsVerifier online: validity at the current time", () => {
  let clock = NOW;
  const now = () => clock;
  const responder = new LocalOcspResponder({ now });
  afterAll(() => responder.close());
  beforeAll(() => responder.start());

  it("checks certificates at now, not at signedDate", async () => {
    const chain = await createAppleTestChain({
      ocspUrl: responder.url,
      validity: { leaf: { notBefore: new Date(NOW - 10 * DAY), notAfter: new Date(NOW + 10 * DAY) } },
    });
    responder.addChain(chain);
    const verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer], onlineChecks: true, now });
    // Signed long before the leaf existed, and still fine: only now counts online.
    clock = NOW;
    await expect(verifier.verify(signAppleJws(notification(NOW - 100 * DAY), chain))).resolves.toBeTruthy();
    // Signed while the leaf was valid, verified after it expired: refused online.
    clock = NOW + 11 * DAY;
    const error = await refusal(verifier.verify(signAppleJws(notification(NOW), chain)));
    expect(error.reason).toMatch(/not valid at the current time/);
    // Online, signedDate may be absent.
    clock = NOW;
    await expect(verifier.verify(signAppleJws({ notificationType: "TEST" }, chain))).resolves.toBeTruthy();
  });

  it("does not ask OCSP about a chain that is not valid now", async () => {
    const expired = await createAppleTestChain({
      ocspUrl: responder.url,
      validity: { leaf: { notBefore: new Date(NOW - 10 * DAY), notAfter: new Date(NOW - DAY) } },
    });
    responder.addChain(expired);
    responder.requests.length = 0;
    clock = NOW;
    const verifier = new AppleJwsVerifier({ trustedRoots: [expired.rootDer], onlineChecks: true, now });
    expect((await refusal(verifier.verify(signAppleJws(notification(NOW - 2 * DAY), expired)))).failure).toBe("unauthenticated");
    expect(responder.requests).toHaveLength(0);
  });
});
