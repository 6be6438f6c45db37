import { createPublicKey, generateKeyPair, type KeyObject, randomBytes, randomInt } from "node:crypto";
import { promisify } from "node:util";
import { compactVerify } from "jose";
import type { ReceivedJwt } from "../apple/fake-app-store-auth.ts";

/** A service account's JSON key as Google Cloud downloads it (IAM → Service accounts → Keys → Add key → JSON). */
export interface GoogleServiceAccountKeyJson {
  type: "service_account";
  project_id: string;
  /** 40 hex digits: the `kid` of the JWTs the key signs. */
  private_key_id: string;
  /** PKCS#8 PEM of an RSA-2048 key. */
  private_key: string;
  client_email: string;
  /** 21 digits. */
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

/** A key as Google hands it out, and the public half Google keeps (SPKI PEM); drop it to write the file Google gives. */
export interface TestServiceAccountKey extends GoogleServiceAccountKeyJson {
  publicKey: string;
}

/** What the fake needs of a key: the account it names and its private key (whose public half it derives, as Google keeps it). */
export type FakePlayServiceAccountKey = Pick<GoogleServiceAccountKeyJson, "client_email" | "private_key"> & { private_key_id?: string };

export interface FakePlayAccount {
  serviceAccountKey: FakePlayServiceAccountKey;
  /** The apps whose purchases this account may read (granted in Play Console); others answer 403. */
  packageNames: string[];
}

export type PlayJwtVerdict = { account: FakePlayAccount; reason?: undefined } | { account?: undefined; reason: string };

export const ANDROID_PUBLISHER_SCOPE = "https://www.googleapis.com/auth/androidpublisher";
/** The audience Google also accepts in place of a scope (a JWT signed for the API's address). */
export const ANDROID_PUBLISHER_AUDIENCE = "https://androidpublisher.googleapis.com/";
/** Google refuses self-signed JWTs that live longer than an hour. */
const MAX_LIFETIME_S = 3600;
/** How far ahead of the fake's clock an iat may be. */
const MAX_IAT_SKEW_S = 60;

export async function createServiceAccountKey(options: { email?: string; projectId?: string } = {}): Promise<TestServiceAccountKey> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)("rsa", { modulusLength: 2048 });
  const projectId = options.projectId ?? `subgate-test-${randomBytes(3).toString("hex")}`;
  const email = options.email ?? `play-reader-${randomBytes(2).toString("hex")}@${projectId}.iam.gserviceaccount.com`;
  return {
    type: "service_account",
    project_id: projectId,
    private_key_id: randomBytes(20).toString("hex"),
    private_key: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    client_email: email,
    client_id: `1${Array.from({ length: 20 }, () => randomInt(10)).join("")}`,
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: "https://oauth2.googleapis.com/token",
    auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
    universe_domain: "googleapis.com",
    publicKey: publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}

/**
 * Google's checks of a self-signed service account JWT, in order; the first that fails is the reason.
 * RS256 (typ JWT when given) with the kid of one of the account's keys; iss = sub = the account's email;
 * the androidpublisher scope or the API's address as aud (not both: AIP-4111); exp in the future, at most an hour after iat.
 */
export async function checkPlayJwt(jwt: ReceivedJwt, accounts: readonly FakePlayAccount[], now: number): Promise<PlayJwtVerdict> {
  const { token, header, claims } = jwt;
  if (token === null) return { reason: "no Bearer token in Authorization" };
  if (header === null || claims === null) return { reason: "the Bearer token is not a JWT (an OAuth access token is not accepted here)" };
  if (header.alg !== "RS256") return { reason: `alg is ${String(header.alg)}, not RS256` };
  if (header.typ !== undefined && header.typ !== "JWT") return { reason: `typ is ${String(header.typ)}, not JWT` };
  const account = accounts.find((candidate) => candidate.serviceAccountKey.client_email === claims.iss);
  if (account === undefined) return { reason: `iss ${String(claims.iss)} is not a service account the fake knows` };
  const key = account.serviceAccountKey;
  if (claims.sub !== claims.iss) return { reason: `sub is ${String(claims.sub)}, not iss ${key.client_email}` };
  if (key.private_key_id !== undefined && header.kid !== key.private_key_id) {
    return { reason: `kid ${String(header.kid)} is not a key of ${key.client_email}` };
  }
  try {
    await compactVerify(token, publicKeyOf(key), { algorithms: ["RS256"] });
  } catch {
    return { reason: `the signature does not verify with the key of ${key.client_email}` };
  }
  // AIP-4111: a self-signed JWT names a scope or an audience, never both.
  if (claims.scope !== undefined && claims.aud !== undefined) return { reason: "both scope and aud are set" };
  const scopes = typeof claims.scope === "string" ? claims.scope.split(" ") : [];
  if (!scopes.includes(ANDROID_PUBLISHER_SCOPE) && claims.aud !== ANDROID_PUBLISHER_AUDIENCE) {
    return {
      reason: `neither scope ${JSON.stringify(claims.scope)} nor aud ${JSON.stringify(claims.aud)} grants ${ANDROID_PUBLISHER_SCOPE}`,
    };
  }
  const { exp, iat } = claims;
  if (typeof exp !== "number") return { reason: "no exp" };
  if (typeof iat !== "number") return { reason: "no iat" };
  if (exp <= now / 1000) return { reason: "exp is in the past" };
  if (iat > now / 1000 + MAX_IAT_SKEW_S) return { reason: "iat is more than 60 s in the future" };
  if (exp - iat > MAX_LIFETIME_S) return { reason: `exp is ${exp - iat} s after iat, more than 3600` };
  return { account };
}

const publicKeys = new WeakMap<FakePlayServiceAccountKey, KeyObject>();

function publicKeyOf(key: FakePlayServiceAccountKey): KeyObject {
  let publicKey = publicKeys.get(key);
  if (publicKey === undefined) {
    publicKey = createPublicKey(key.private_key);
    publicKeys.set(key, publicKey);
  }
  return publicKey;
}
