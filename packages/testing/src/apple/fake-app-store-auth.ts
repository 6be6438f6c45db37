import { generateKeyPair, type KeyObject, randomInt, randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose";

/** An In-App Purchase key as App Store Connect hands it out, with the public half a fake checks tokens with. */
export interface AppStoreApiTestKey {
  /** A UUID, as Apple's issuer ids are. */
  issuerId: string;
  /** 10 upper-case alphanumerics, as Apple's key ids are. */
  keyId: string;
  /** PKCS#8 PEM of an EC P-256 key: what a `.p8` file holds. */
  privateKeyPem: string;
  publicKey: KeyObject;
}

/** A key the fake knows, and the app (bundle id) its tokens may name. */
export interface FakeAppStoreApiKey {
  issuerId: string;
  keyId: string;
  publicKey: KeyObject;
  bundleId: string;
  /** Apple's numeric app id; the fake's production TEST notifications carry it. */
  appAppleId?: number;
}

/** A bearer token as it came, decoded without verifying (null where it could not be). */
export interface ReceivedJwt {
  token: string | null;
  header: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
}

export type JwtVerdict = { key: FakeAppStoreApiKey; reason?: undefined } | { key?: undefined; reason: string };

const KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/** Apple refuses tokens that expire more than 60 minutes after they were issued. */
const MAX_LIFETIME_S = 3600;
/** How far in the future an iat may be (clock skew between caller and Apple). */
const MAX_IAT_SKEW_S = 60;

export async function createAppStoreApiKey(options: { issuerId?: string; keyId?: string } = {}): Promise<AppStoreApiTestKey> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)("ec", { namedCurve: "prime256v1" });
  const keyId = options.keyId ?? Array.from({ length: 10 }, () => KEY_ID_ALPHABET[randomInt(KEY_ID_ALPHABET.length)]).join("");
  return {
    issuerId: options.issuerId ?? randomUUID(),
    keyId,
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKey,
  };
}

export function readJwt(authorization: string | undefined): ReceivedJwt {
  const token = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : null;
  return {
    token,
    header: token === null ? null : attempt(() => decodeProtectedHeader(token)),
    claims: token === null ? null : attempt(() => decodeJwt(token)),
  };
}

/** Apple's checks of a token, in order; the first that fails is the reason. */
export async function checkJwt(jwt: ReceivedJwt, keys: readonly FakeAppStoreApiKey[], now: number): Promise<JwtVerdict> {
  const { token, header, claims } = jwt;
  if (token === null) return { reason: "no Bearer token in Authorization" };
  if (header === null || claims === null) return { reason: "the Bearer token is not a JWT" };
  if (header.alg !== "ES256") return { reason: `alg is ${String(header.alg)}, not ES256` };
  if (header.typ !== "JWT") return { reason: `typ is ${String(header.typ)}, not JWT` };
  const key = keys.find((candidate) => candidate.keyId === header.kid);
  if (key === undefined) return { reason: `unknown kid ${String(header.kid)}` };
  try {
    await jwtVerify(token, key.publicKey, { algorithms: ["ES256"], currentDate: new Date(now) });
  } catch (error) {
    if (error instanceof errors.JWSSignatureVerificationFailed) return { reason: `the signature does not verify with key ${key.keyId}` };
    if (error instanceof errors.JWTExpired) return { reason: "exp is in the past" };
    return { reason: `the token does not verify: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (claims.iss !== key.issuerId) return { reason: `iss is ${String(claims.iss)}, not the issuer of key ${key.keyId}` };
  if (claims.aud !== "appstoreconnect-v1") return { reason: `aud is ${JSON.stringify(claims.aud)}, not appstoreconnect-v1` };
  if (claims.bid !== key.bundleId)
    return { reason: `bid is ${String(claims.bid)}, not ${key.bundleId}, the bundle id of key ${key.keyId}` };
  // jose has checked that exp, when present, is a number in the future, and that iat is a number.
  const { exp, iat } = claims;
  if (typeof exp !== "number") return { reason: "no exp" };
  if (typeof iat !== "number") return { reason: "no iat" };
  if (iat > now / 1000 + MAX_IAT_SKEW_S) return { reason: "iat is more than 60 s in the future" };
  if (exp - iat > MAX_LIFETIME_S) return { reason: `exp is ${exp - iat} s after iat, more than 3600` };
  return { key };
}

function attempt<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}
