import { decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from "jose";
import { VerificationError } from "../../adapter.ts";
import type { GoogleJwks, GoogleSigningKey } from "./jwks.ts";

/*
 * The OIDC token Pub/Sub puts in `Authorization: Bearer` when a push subscription has authentication
 * enabled (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions): RS256, signed by
 * Google's OAuth2 keys, for the subscription's audience and service account. Reasons name the claim
 * that failed and never the token, which is a bearer credential for as long as it lives.
 */

const GOOGLE_ISSUERS: ReadonlySet<string> = new Set(["https://accounts.google.com", "accounts.google.com"]);
const CLOCK_TOLERANCE_S = 30;
/** Google mints these tokens for an hour; one issued longer ago than that is not a fresh one of Google's. */
const MAX_TOKEN_AGE_S = 3600;

export interface PushTokenExpectation {
  /** The app's pubsub_audience. */
  audience: string;
  /** The app's pubsub_service_account_email. */
  email: string;
}

export interface VerifiedPushToken {
  email: string;
  audience: string;
  issuedAt: Date;
}

/** Verifies a push's OIDC token. Throws VerificationError: unauthenticated, or unavailable when Google's keys cannot be read. */
export async function verifyPushToken(
  authorization: string | undefined,
  expected: PushTokenExpectation,
  jwks: GoogleJwks,
  now: () => number = Date.now,
): Promise<VerifiedPushToken> {
  const token = bearerToken(authorization);
  const key = await signingKey(token, jwks);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["RS256"],
      clockTolerance: CLOCK_TOLERANCE_S,
      maxTokenAge: MAX_TOKEN_AGE_S,
      currentDate: new Date(now()),
      requiredClaims: ["exp", "iat"],
    }));
  } catch (error) {
    throw unauthenticated(joseReason(error));
  }
  return checkClaims(payload, expected);
}

function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === "") throw unauthenticated("missing Authorization bearer token");
  // The scheme is case-insensitive (RFC 9110); the token is one token68, nothing after it.
  const match = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  if (!match?.[1]) throw unauthenticated("the Authorization header is not a Bearer token");
  return match[1];
}

/** The key the token names. Checked before the signature so that a token Google would never sign costs no fetch. */
async function signingKey(token: string, jwks: GoogleJwks): Promise<GoogleSigningKey> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw unauthenticated("the Authorization bearer token is not a JWT");
  }
  if (header.alg !== "RS256") throw unauthenticated(`the OIDC token is signed with ${quoted(header.alg)}, not RS256`);
  if (typeof header.kid !== "string" || header.kid === "") throw unauthenticated("the OIDC token names no signing key (kid)");
  const key = await jwks.key(header.kid);
  if (key === null) throw unauthenticated(`unknown signing key (kid ${quoted(header.kid)}): not one of Google's`);
  return key;
}

function joseReason(error: unknown): string {
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the OIDC token's signature does not verify";
  if (error instanceof errors.JWTExpired) {
    return error.claim === "iat" ? `the OIDC token was issued more than ${MAX_TOKEN_AGE_S / 3600} h ago` : "the OIDC token has expired";
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return `the OIDC token has no ${error.claim} claim`;
    if (error.claim === "iat" && error.reason === "check_failed") return "the OIDC token's iat is in the future";
    if (error.claim === "nbf" && error.reason === "check_failed") return "the OIDC token is not valid yet (nbf)";
    return `the OIDC token's ${error.claim} claim is invalid`;
  }
  if (error instanceof errors.JOSEError) return "the Authorization bearer token is not a valid JWT";
  throw error;
}

function checkClaims(payload: JWTPayload, expected: PushTokenExpectation): VerifiedPushToken {
  if (typeof payload.iss !== "string" || !GOOGLE_ISSUERS.has(payload.iss)) {
    throw unauthenticated(`iss ${quoted(payload.iss)} is not Google`);
  }
  const audiences = typeof payload.aud === "string" ? [payload.aud] : (payload.aud ?? []);
  if (!audiences.includes(expected.audience)) {
    throw unauthenticated(`the OIDC token is for audience ${quoted(payload.aud)}, not this app's pubsub_audience`);
  }
  const email = payload.email;
  // Google's service account emails are lower case; a configured one may not be.
  if (typeof email !== "string" || email.toLowerCase() !== expected.email.toLowerCase()) {
    throw unauthenticated(`the OIDC token is for ${quoted(email)}, not this app's pubsub_service_account_email`);
  }
  if (payload.email_verified !== true) throw unauthenticated("the OIDC token's email_verified is not true");
  return { email, audience: expected.audience, issuedAt: new Date((payload.iat as number) * 1000) };
}

/** A claim or header value from the token, safe to show: quoted, and cut short. */
function quoted(value: unknown): string {
  if (value === undefined) return "(none)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function unauthenticated(reason: string): VerificationError {
  return new VerificationError("unauthenticated", reason);
}
