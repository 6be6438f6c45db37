import { generateKeyPairSync } from "node:crypto";
import { GOOGLE_TEST_AUDIENCE, GOOGLE_TEST_SERVICE_ACCOUNT, LocalGoogleOidc } from "@subgate/testing/google";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { rejected } from "./fixtures/thrown.ts";
import { VerificationError } from "../src/adapter.ts";
import { GoogleJwks, type GoogleJwksOptions } from "../src/google/oidc/jwks.ts";
import { verifyPushToken } from "../src/google/oidc/verify.ts";

const START = Math.floor(Date.now() / 1000) * 1000;
const EXPECTED = { audience: GOOGLE_TEST_AUDIENCE, email: GOOGLE_TEST_SERVICE_ACCOUNT };

// One clock for the token's times, the verifier and the key cache, moved by hand.
let clock = START;
const now = () => clock;
const seconds = () => Math.floor(clock / 1000);

const oidc = new LocalGoogleOidc({ now, maxAgeSeconds: 600 });
const jwksWith = (options: GoogleJwksOptions = {}) => new GoogleJwks({ url: oidc.url, now, ...options });
const fetchesDuring = async (run: () => Promise<unknown>): Promise<number> => {
  const before = oidc.fetchCount;
  await run();
  return oidc.fetchCount - before;
};

beforeAll(() => oidc.start());
afterAll(() => oidc.close());
beforeEach(() => {
  clock = START;
  oidc.cacheControl = "public, max-age=600, must-revalidate, no-transform";
  oidc.ageSeconds = null;
  oidc.delayMs = 0;
  oidc.fail(0);
});

describe("verifyPushToken", () => {
  let jwks: GoogleJwks;
  beforeEach(() => {
    jwks = jwksWith();
  });
  const verify = (authorization: string | undefined, expected = EXPECTED) => verifyPushToken(authorization, expected, jwks, now);
  /** The refusal of `authorization`: unauthenticated, with a reason that never holds the token. */
  const refusal = async (authorization: string | undefined, expected = EXPECTED): Promise<string> => {
    const error = await rejected(VerificationError, verify(authorization, expected));
    expect(error.failure).toBe("unauthenticated");
    const token = authorization?.split(" ")[1];
    if (token) {
      expect(error.reason).not.toContain(token);
      for (const part of token.split(".").filter((segment) => segment.length > 10)) expect(error.reason).not.toContain(part);
    }
    return error.reason;
  };
  const bearer = async (claims: Record<string, unknown> = {}, options: Parameters<LocalGoogleOidc["signToken"]>[1] = {}) =>
    `Bearer ${await oidc.signToken(claims, options)}`;

  it("verifies a token Pub/Sub would send", async () => {
    expect(await verify(await bearer())).toEqual({
      email: GOOGLE_TEST_SERVICE_ACCOUNT,
      audience: GOOGLE_TEST_AUDIENCE,
      issuedAt: new Date(seconds() * 1000),
    });
  });

  it("refuses a request without a bearer token", async () => {
    expect(await refusal(undefined)).toBe("missing Authorization bearer token");
    expect(await refusal("  ")).toBe("missing Authorization bearer token");
    const token = await oidc.signToken();
    for (const header of [`Basic ${token}`, token, "Bearer", `Bearer ${token} ${token}`, `Bearer ${token}, Bearer ${token}`]) {
      expect(await refusal(header)).toBe("the Authorization header is not a Bearer token");
    }
    expect(await refusal("Bearer abc.def")).toBe("the Authorization bearer token is not a JWT");
  });

  it("takes the scheme in any case", async () => {
    expect((await verify(`bearer ${await oidc.signToken()}`)).email).toBe(GOOGLE_TEST_SERVICE_ACCOUNT);
  });

  it("refuses an expired token beyond 30 s of skew, and accepts one within it", async () => {
    const expiredAt = async (exp: number) => bearer({ iat: exp - 3600, exp });
    expect(await refusal(await expiredAt(seconds() - 31))).toBe("the OIDC token has expired");
    expect((await verify(await expiredAt(seconds() - 29))).email).toBe(GOOGLE_TEST_SERVICE_ACCOUNT);
  });

  it("requires exp and iat, refuses an iat in the future and a token issued over an hour ago", async () => {
    expect(await refusal(await bearer({ exp: undefined }))).toBe("the OIDC token has no exp claim");
    expect(await refusal(await bearer({ iat: undefined, exp: seconds() + 600 }))).toBe("the OIDC token has no iat claim");
    expect(await refusal(await bearer({ iat: seconds() + 120 }))).toBe("the OIDC token's iat is in the future");
    expect(await refusal(await bearer({ iat: seconds() - 7200, exp: seconds() + 600 }))).toBe(
      "the OIDC token was issued more than 1 h ago",
    );
    expect(await refusal(await bearer({ exp: "tomorrow" }))).toBe("the OIDC token's exp claim is invalid");
  });

  it("refuses a token for another audience", async () => {
    expect(await refusal(await bearer({ aud: "https://elsewhere.example/push" }))).toBe(
      'the OIDC token is for audience "https://elsewhere.example/push", not this app\'s pubsub_audience',
    );
    expect(await refusal(await bearer({ aud: undefined }))).toBe("the OIDC token is for audience (none), not this app's pubsub_audience");
  });

  it("refuses a token for another service account, and compares emails without case", async () => {
    expect(await refusal(await bearer({ email: "intruder@evil.iam.gserviceaccount.com" }))).toBe(
      'the OIDC token is for "intruder@evil.iam.gserviceaccount.com", not this app\'s pubsub_service_account_email',
    );
    expect(await refusal(await bearer({ email: undefined }))).toMatch(/^the OIDC token is for \(none\), /);
    const upper = { ...EXPECTED, email: GOOGLE_TEST_SERVICE_ACCOUNT.toUpperCase() };
    expect((await verify(await bearer(), upper)).email).toBe(GOOGLE_TEST_SERVICE_ACCOUNT);
  });

  it("requires email_verified to be true", async () => {
    for (const emailVerified of [false, "true", undefined]) {
      expect(await refusal(await bearer({ email_verified: emailVerified }))).toBe("the OIDC token's email_verified is not true");
    }
  });

  it("requires Google as the issuer, in either of its spellings", async () => {
    expect(await refusal(await bearer({ iss: "https://accounts.google.com.evil.example" }))).toBe(
      'iss "https://accounts.google.com.evil.example" is not Google',
    );
    expect(await refusal(await bearer({ iss: undefined }))).toBe("iss (none) is not Google");
    expect((await verify(await bearer({ iss: "accounts.google.com" }))).email).toBe(GOOGLE_TEST_SERVICE_ACCOUNT);
  });

  it("refuses a token signed by a key Google does not serve", async () => {
    const reason = await refusal(await bearer({}, { key: "unknown", kid: "not-googles" }));
    expect(reason).toBe('unknown signing key (kid "not-googles"): not one of Google\'s');
    // An impostor's key under one of Google's kids.
    expect(await refusal(await bearer({}, { key: "unknown", kid: oidc.kids[0] }))).toBe("the OIDC token's signature does not verify");
  });

  it("refuses a token whose payload was changed after signing", async () => {
    const [header, , signature] = (await oidc.signToken({ email: "someone@else.example" })).split(".");
    const payload = (await oidc.signToken()).split(".")[1];
    expect(await refusal(`Bearer ${header}.${payload}.${signature}`)).toBe("the OIDC token's signature does not verify");
  });

  it("refuses alg none, HS256 and other algorithms without fetching anything", async () => {
    await verify(await bearer()); // the set is cached
    const fetches = await fetchesDuring(async () => {
      expect(await refusal(await bearer({}, { alg: "none" }))).toBe('the OIDC token is signed with "none", not RS256');
      expect(await refusal(await bearer({}, { alg: "HS256" }))).toBe('the OIDC token is signed with "HS256", not RS256');
      expect(await refusal(await bearer({}, { alg: "PS256" }))).toBe('the OIDC token is signed with "PS256", not RS256');
      expect(await refusal(await bearer({}, { kid: "" }))).toBe("the OIDC token names no signing key (kid)");
    });
    expect(fetches).toBe(0);
  });
});

describe("GoogleJwks", () => {
  const kid = () => oidc.kids[0] as string;

  it("keeps the set for its max-age and fetches it again after", async () => {
    const jwks = jwksWith();
    expect(await fetchesDuring(() => jwks.key(kid()))).toBe(1);
    clock = START + 599_000;
    expect(await fetchesDuring(() => jwks.key(kid()))).toBe(0);
    clock = START + 600_000;
    expect(await fetchesDuring(() => jwks.key(kid()))).toBe(1);
    expect(await fetchesDuring(() => jwks.key(kid()))).toBe(0);
  });

  it.each([
    ["no Cache-Control: 5 min", null, null, 300],
    ["max-age less Age", "public, max-age=600", 500, 100],
    ["no-store: the 60 s floor", "no-store", null, 60],
    ["max-age=0: the 60 s floor", "max-age=0", null, 60],
    ["a max-age over a day: 24 h", "max-age=31536000", null, 86_400],
    ["an unreadable max-age: 5 min", "max-age=soon", null, 300],
  ])("cache rule: %s", async (_rule, cacheControl, age, freshSeconds) => {
    oidc.cacheControl = cacheControl;
    oidc.ageSeconds = age;
    const jwks = jwksWith();
    expect(await fetchesDuring(() => jwks.key(kid()))).toBe(1);
    clock = START + freshSeconds * 1000 - 1;
    expect(await fetchesDuring(() => jwks.key(kid()))).toBe(0);
    clock = START + freshSeconds * 1000;
    expect(await fetchesDuring(() => jwks.key(kid()))).toBe(1);
  });

  it("refetches once for an unknown kid, then not again within 30 s", async () => {
    const jwks = jwksWith();
    await jwks.key(kid());
    clock += 1000;
    expect(await fetchesDuring(async () => expect(await jwks.key("unknown-1")).toBeNull())).toBe(1);
    clock += 29_000;
    expect(await fetchesDuring(async () => expect(await jwks.key("unknown-2")).toBeNull())).toBe(0);
    clock += 1000;
    expect(await fetchesDuring(async () => expect(await jwks.key("unknown-3")).toBeNull())).toBe(1);
  });

  it("takes the unknown-kid interval from its options", async () => {
    const jwks = jwksWith({ unknownKidRefetchMs: 5000 });
    await jwks.key(kid());
    expect(await fetchesDuring(() => jwks.key("unknown-1"))).toBe(1);
    clock += 5000;
    expect(await fetchesDuring(() => jwks.key("unknown-2"))).toBe(1);
  });

  it("does not refetch for an unknown kid when it has just fetched the set for that very call", async () => {
    const jwks = jwksWith();
    expect(await fetchesDuring(async () => expect(await jwks.key("unknown")).toBeNull())).toBe(1);
  });

  it("finds a key Google rotated in through that refetch", async () => {
    const jwks = jwksWith();
    await jwks.key(kid());
    const rotated = await oidc.rotate();
    const token = await oidc.signToken();
    expect(JSON.parse(Buffer.from(token.split(".")[0] as string, "base64url").toString()).kid).toBe(rotated);
    const fetches = await fetchesDuring(async () => {
      expect((await verifyPushToken(`Bearer ${token}`, EXPECTED, jwks, now)).email).toBe(GOOGLE_TEST_SERVICE_ACCOUNT);
    });
    expect(fetches).toBe(1);
  });

  it("shares one fetch between concurrent callers, cold and on concurrent misses", async () => {
    oidc.delayMs = 100;
    const jwks = jwksWith();
    expect(await fetchesDuring(() => Promise.all([1, 2, 3, 4].map(() => jwks.key(kid()))))).toBe(1);
    clock += 1000;
    const misses = await fetchesDuring(async () => {
      expect(await Promise.all(["a", "b", "c", "d"].map((unknown) => jwks.key(unknown)))).toEqual([null, null, null, null]);
    });
    expect(misses).toBe(1);
  });

  it("answers unavailable when the set cannot be fetched, and recovers", async () => {
    const jwks = jwksWith();
    oidc.fail(1, 503);
    const error = await rejected(VerificationError, jwks.key(kid()));
    expect(error.failure).toBe("unavailable");
    expect(error.reason).toBe("Google's OIDC keys could not be fetched: HTTP 503");
    expect(await jwks.key(kid())).not.toBeNull();
  });

  it("passes the failure on through verifyPushToken as unavailable, not unauthenticated", async () => {
    oidc.fail(1, 500);
    const error = await rejected(VerificationError, verifyPushToken(`Bearer ${await oidc.signToken()}`, EXPECTED, jwksWith(), now));
    expect(error.failure).toBe("unavailable");
  });

  it("says unavailable, not unknown, for a kid while its refetch keeps failing; known kids still verify", async () => {
    const jwks = jwksWith();
    await jwks.key(kid());
    oidc.fail(5);
    expect((await rejected(VerificationError, jwks.key("unknown-1"))).failure).toBe("unavailable");
    expect(
      await fetchesDuring(async () => expect((await rejected(VerificationError, jwks.key("unknown-2"))).failure).toBe("unavailable")),
    ).toBe(0);
    expect(await jwks.key(kid())).not.toBeNull();
  });

  it("answers unavailable when the server is down or slow", async () => {
    const down = new LocalGoogleOidc();
    await down.start();
    await down.close();
    const refused = await rejected(VerificationError, new GoogleJwks({ url: down.url, now }).key("k"));
    expect(refused).toMatchObject({ failure: "unavailable", reason: "Google's OIDC keys could not be fetched: ECONNREFUSED" });
    oidc.delayMs = 300;
    const slow = await rejected(VerificationError, jwksWith({ timeoutMs: 50 }).key(kid()));
    expect(slow).toMatchObject({ failure: "unavailable", reason: "Google's OIDC keys could not be fetched: no answer within 50 ms" });
  });

  it.each([
    ["not JSON", "<html>", "the answer is not JSON"],
    ["not a set", '{"kid": "x"}', "the answer is not a JWK set"],
    ["an empty set", '{"keys": []}', "the set holds no RS256 signing key"],
    [
      "only keys of other kinds",
      JSON.stringify({
        keys: [
          { kty: "EC", kid: "e", crv: "P-256", x: "AA", y: "AA" },
          { kty: "RSA", kid: "r", alg: "RS512", n: "AQAB", e: "AQAB" },
        ],
      }),
      "the set holds no RS256 signing key",
    ],
  ])("refuses an answer that is %s", async (_what, answer, detail) => {
    const fetch = async () => new Response(answer, { status: 200, headers: { "content-type": "application/json" } });
    const error = await rejected(VerificationError, new GoogleJwks({ url: "https://certs.invalid/", now, fetch }).key("k"));
    expect(error).toMatchObject({ failure: "unavailable", reason: `Google's OIDC keys could not be fetched: ${detail}` });
  });

  it("skips a key it cannot import or that is under 2048 bits, and keeps the others", async () => {
    const served = (await (await globalThis.fetch(oidc.url)).json()) as { keys: object[] };
    const broken = { kty: "RSA", kid: "broken", alg: "RS256", use: "sig", n: "", e: "" };
    const weak = { ...generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" }), kid: "weak", alg: "RS256" };
    const fetch = async () => Response.json({ keys: [broken, weak, ...served.keys] });
    const jwks = new GoogleJwks({ url: "https://certs.invalid/", now, fetch });
    expect(await jwks.key(kid())).not.toBeNull();
    expect(await jwks.key("broken")).toBeNull();
    expect(await jwks.key("weak")).toBeNull();
  });

  it("fetches Google's own URL unless told otherwise", async () => {
    const urls: string[] = [];
    const fetch = async (url: string | URL | Request) => {
      urls.push(String(url));
      return Response.json({ keys: [] });
    };
    await rejected(VerificationError, new GoogleJwks({ now, fetch }).key("k"));
    expect(urls).toEqual(["https://www.googleapis.com/oauth2/v3/certs"]);
  });
});
