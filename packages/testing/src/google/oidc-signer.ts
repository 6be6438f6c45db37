import { createHmac, randomBytes, type webcrypto } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";

/** The audience and service account the tokens are for unless a test says otherwise. */
export const GOOGLE_TEST_AUDIENCE = "https://subgate.example/ingress/google/itk_test";
export const GOOGLE_TEST_SERVICE_ACCOUNT = "rtdn-push@subgate-test.iam.gserviceaccount.com";

interface SigningKey {
  kid: string;
  privateKey: webcrypto.CryptoKey;
  publicKey: webcrypto.CryptoKey;
  jwk: JWK;
}

export interface SignGoogleTokenOptions {
  /** The header's kid. Default: the newest served key's (or, with key "unknown", a kid nobody serves). */
  kid?: string;
  /** served (default): the newest key the JWK set serves; unknown: a key it never served. */
  key?: "served" | "unknown";
  /**
   * The header's alg. RS* and PS* sign with the RSA key; HS256 with an HMAC keyed by the served
   * public key's PEM (the algorithm-confusion attack); none with nothing.
   */
  alg?: string;
}

/**
 * Google's OAuth2 JWK set on 127.0.0.1, as https://www.googleapis.com/oauth2/v3/certs serves it
 * (`{"keys": [{kty, alg: "RS256", use: "sig", kid, n, e}]}`, Cache-Control max-age), and the
 * OIDC tokens Pub/Sub would sign with those keys. Counts fetches, rotates keys, fails on demand.
 */
export class LocalGoogleOidc {
  url = "";
  /** Requests for the set answered so far, failures included. */
  fetchCount = 0;
  /** The Cache-Control header of the answers; null leaves it out. */
  cacheControl: string | null;
  /** An `Age` header to send, in seconds; null leaves it out. */
  ageSeconds: number | null = null;
  /** Wait this long before answering (concurrent fetches). */
  delayMs = 0;

  private served: SigningKey[] = [];
  private unknown: SigningKey | null = null;
  private failures: { remaining: number; status: number } = { remaining: 0, status: 503 };
  private server: Server | null = null;
  private readonly now: () => number;
  private readonly initialKeys: number;

  constructor(options: { keys?: number; maxAgeSeconds?: number | null; now?: () => number } = {}) {
    this.initialKeys = options.keys ?? 2;
    const maxAge = options.maxAgeSeconds === undefined ? 300 : options.maxAgeSeconds;
    this.cacheControl = maxAge === null ? null : `public, max-age=${maxAge}, must-revalidate, no-transform`;
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<this> {
    for (let i = 0; i < this.initialKeys; i++) this.served.push(await newKey());
    this.server = createServer((req, res) => {
      this.fetchCount++;
      setTimeout(() => this.answer(res), this.delayMs);
      req.resume();
    });
    await once(this.server.listen(0, "127.0.0.1"), "listening");
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/oauth2/v3/certs`;
    return this;
  }

  /** Stops listening and drops open connections: later fetches are refused (ECONNREFUSED). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = once(server.close(), "close");
    server.closeAllConnections();
    await closed;
  }

  /** The kids served now, newest first. */
  get kids(): string[] {
    return this.served.map((key) => key.kid);
  }

  /** Serves a new key from now on, first in the set, and drops the oldest, as Google rotates. Returns its kid. */
  async rotate(): Promise<string> {
    const key = await newKey();
    this.served = [key, ...this.served.slice(0, Math.max(0, this.served.length - 1))];
    return key.kid;
  }

  /** The next `count` requests answer `status` with an error body. */
  fail(count: number, status = 503): void {
    this.failures = { remaining: count, status };
  }

  /** A Google-like OIDC token; `claims` are merged over the defaults, and a claim set to undefined is left out. */
  async signToken(claims: Record<string, unknown> = {}, options: SignGoogleTokenOptions = {}): Promise<string> {
    if (options.key === "unknown") this.unknown ??= await newKey();
    const key = options.key === "unknown" ? this.unknown : this.served[0];
    if (!key) throw new Error("LocalGoogleOidc: start() first");
    const alg = options.alg ?? "RS256";
    const header = { alg, kid: options.kid ?? key.kid, typ: "JWT" };
    const payload = this.claimsWith(claims);
    if (alg === "none" || alg === "HS256") return unsignedOrHmac(header, payload, alg, key);
    // A CryptoKey is bound to one algorithm: RS384 or PS256 need the same key imported again for it.
    const signingKey = alg === "RS256" ? key.privateKey : await importJWK(await exportJWK(key.privateKey), alg);
    return new SignJWT(payload).setProtectedHeader(header).sign(signingKey);
  }

  private claimsWith(overrides: Record<string, unknown>): Record<string, unknown> {
    const iat = typeof overrides.iat === "number" ? overrides.iat : Math.floor(this.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: "https://accounts.google.com",
      aud: GOOGLE_TEST_AUDIENCE,
      azp: "112233445566778899000",
      email: GOOGLE_TEST_SERVICE_ACCOUNT,
      email_verified: true,
      sub: "112233445566778899000",
      iat,
      exp: iat + 3600,
      ...overrides,
    };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
    return claims;
  }

  private answer(res: ServerResponse): void {
    if (this.failures.remaining > 0) {
      this.failures.remaining--;
      res.writeHead(this.failures.status, { "content-type": "text/plain" }).end("backend error");
      return;
    }
    const headers: Record<string, string> = { "content-type": "application/json; charset=UTF-8" };
    if (this.cacheControl !== null) headers["cache-control"] = this.cacheControl;
    if (this.ageSeconds !== null) headers.age = String(this.ageSeconds);
    res.writeHead(200, headers).end(JSON.stringify({ keys: this.served.map((key) => key.jwk) }));
  }
}

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const kid = randomBytes(20).toString("hex");
  return { kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

async function unsignedOrHmac(header: object, payload: object, alg: string, key: SigningKey): Promise<string> {
  const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  if (alg === "none") return `${input}.`;
  const secret = await exportSPKI(key.publicKey);
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}
