import { type CryptoKey, importPKCS8, SignJWT } from "jose";
import { AppStoreApiError } from "./errors.ts";

/** An In-App Purchase key from App Store Connect, and the app its tokens are for. */
export interface AppStoreApiCredentials {
  /** The team's issuer id (a UUID), shown above the keys in App Store Connect. */
  issuerId: string;
  /** The key's id (10 characters), the `kid` of every token. */
  keyId: string;
  /** The text of the `.p8` file: a PKCS#8 PEM EC P-256 private key. */
  privateKey: string;
  bundleId: string;
}

export interface AppStoreApiTokensOptions {
  /** Clock in ms; tests move it to see a token reused and renewed. */
  now?: () => number;
}

/** Apple refuses tokens that expire more than 60 minutes after iat; 20 is well inside that. */
const LIFETIME_S = 20 * 60;
/** Renew before a token could expire in flight or on a clock a little ahead of ours. */
const RENEW_BEFORE_MS = 2 * 60 * 1000;
const AUDIENCE = "appstoreconnect-v1";

interface SignedToken {
  /** When this token is to be replaced: 2 min before it expires. */
  renewAt: number;
  jwt: Promise<string>;
}

/**
 * The bearer tokens the App Store Server API wants (ES256; header alg, kid, typ JWT; claims iss, iat,
 * exp, aud, bid). Apple suggests one per request; signing is cheap but not free, and one token
 * reused until shortly before it expires is accepted all the same, so it is cached.
 */
export class AppStoreApiTokens {
  private readonly now: () => number;
  private key: Promise<CryptoKey> | null = null;
  private current: SignedToken | null = null;

  constructor(
    private readonly credentials: AppStoreApiCredentials,
    options: AppStoreApiTokensOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** A token valid for at least 2 more minutes; rejects with an "unauthorized" AppStoreApiError when the key is unusable. */
  token(): Promise<string> {
    const now = this.now();
    if (this.current === null || now >= this.current.renewAt) {
      const iat = Math.floor(now / 1000);
      const exp = iat + LIFETIME_S;
      // The promise is cached, not its result: concurrent callers share one signature.
      this.current = { renewAt: exp * 1000 - RENEW_BEFORE_MS, jwt: this.sign(iat, exp) };
    }
    return this.current.jwt;
  }

  private async sign(iat: number, exp: number): Promise<string> {
    const { issuerId, keyId, bundleId } = this.credentials;
    return new SignJWT({ bid: bundleId })
      .setProtectedHeader({ alg: "ES256", kid: keyId, typ: "JWT" })
      .setIssuer(issuerId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setAudience(AUDIENCE)
      .sign(await this.signingKey());
  }

  private signingKey(): Promise<CryptoKey> {
    // A key that does not import never will: the refusal is kept, no retry imports it again.
    this.key ??= importPKCS8(this.credentials.privateKey, "ES256").catch(() => {
      throw new AppStoreApiError({
        kind: "unauthorized",
        status: null,
        // jose's reason is left out: it may quote parts of the key.
        message:
          "apple.private_key is not an App Store Server API key: it must be the text of the .p8 file App Store Connect gives " +
          "(a PKCS#8 PEM EC P-256 private key, -----BEGIN PRIVATE KEY-----)",
      });
    });
    return this.key;
  }
}
