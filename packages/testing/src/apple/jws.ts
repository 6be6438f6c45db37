import { createHmac, createPublicKey, type KeyObject, sign } from "node:crypto";
import type { AppleTestChain } from "./chain.ts";

/** What signing needs of a chain: the x5c it sends and the leaf's key. */
export type AppleJwsSigner = Pick<AppleTestChain, "x5c" | "leafPrivateKey">;

export interface SignAppleJwsOptions {
  /** The header's `alg`. Default ES256. ES384/ES512 sign with the matching hash, HS256 with an HMAC, none with nothing. */
  alg?: string;
  /** The header's `x5c`, instead of [leaf, intermediate, root]. */
  x5c?: unknown;
  /** Header fields merged over the defaults (after `alg` and `x5c`), e.g. `{ crit: [...] }` or `{ x5c: undefined }`. */
  header?: Record<string, unknown>;
  /** Sign with this key instead of the chain's leaf key. */
  signingKey?: KeyObject;
  /** HS256 secret. Default: the leaf's public key in SPKI DER, the classic algorithm-confusion attack. */
  hmacSecret?: Uint8Array;
}

const HASH_OF: Record<string, string> = { ES256: "sha256", ES384: "sha384", ES512: "sha512" };

function b64url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString("base64url");
}

/** A compact JWS in the shape of Apple's signed payloads: header {alg: "ES256", x5c: [leaf, intermediate, root]}. */
export function signAppleJws(payload: object, chain: AppleJwsSigner, options: SignAppleJwsOptions = {}): string {
  const alg = options.alg ?? "ES256";
  const header = { alg, x5c: options.x5c ?? chain.x5c, ...options.header };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${signingInput}.${b64url(signatureOf(signingInput, alg, chain, options))}`;
}

function signatureOf(signingInput: string, alg: string, chain: AppleJwsSigner, options: SignAppleJwsOptions): Uint8Array {
  if (alg === "none") return new Uint8Array(0);
  if (alg === "HS256") {
    const secret = options.hmacSecret ?? createPublicKey(chain.leafPrivateKey).export({ format: "der", type: "spki" });
    return createHmac("sha256", secret).update(signingInput).digest();
  }
  const hash = HASH_OF[alg] ?? "sha256";
  // JWS carries ECDSA signatures as raw r || s, not DER.
  return sign(hash, Buffer.from(signingInput), { key: options.signingKey ?? chain.leafPrivateKey, dsaEncoding: "ieee-p1363" });
}
