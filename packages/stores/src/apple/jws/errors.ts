/**
 * Why a JWS was refused:
 * - malformed: not a compact JWS of the shape Apple signs (parts, encodings, JSON, header fields, signedDate);
 * - unauthenticated: well formed, but not proven to come from Apple (chain, OIDs, dates, revocation, signature);
 * - retryable: could not be decided now (the OCSP responder was unreachable); the same JWS may verify later.
 */
export type AppleJwsFailure = "malformed" | "unauthenticated" | "retryable";

export class AppleJwsError extends Error {
  override readonly name = "AppleJwsError";
  constructor(
    readonly failure: AppleJwsFailure,
    /** Short and safe to show a caller: says what is wrong, never a secret. */
    readonly reason: string,
  ) {
    super(reason);
  }
}

export function malformed(reason: string): AppleJwsError {
  return new AppleJwsError("malformed", reason);
}

export function unauthenticated(reason: string): AppleJwsError {
  return new AppleJwsError("unauthenticated", reason);
}
