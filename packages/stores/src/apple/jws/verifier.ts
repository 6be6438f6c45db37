import { verify as verifySignature } from "node:crypto";
import { type ParsedCertificate, parseCertificate } from "./certificate.ts";
import { type CachedChain, ChainCache } from "./chain-cache.ts";
import { type VerifiedChain, verifyChain } from "./chain.ts";
import { type CompactJws, decodeJsonObject, decodeSignature, encodeSigningInput, splitCompactJws } from "./compact.ts";
import { AppleJwsError, malformed, unauthenticated } from "./errors.ts";
import { checkOcsp } from "./ocsp.ts";

/** Clock skew allowed around certificate validity, as Apple's App Store Server Library allows. */
const MAX_SKEW_MS = 60_000;
const DEFAULT_CACHE_SIZE = 64;
const DEFAULT_CACHE_TTL_MS = 15 * 60_000;
const DEFAULT_OCSP_TIMEOUT_MS = 5_000;
/** base64url length of a 64-byte ES256 signature (r || s). */
const ES256_SIGNATURE_CHARS = 86;

export interface AppleJwsVerifierOptions {
  /** DER certificates of the roots the chain must end at (Apple Root CA - G3 in production). */
  trustedRoots: Uint8Array[];
  /**
   * Check revocation with OCSP and certificate validity at the current time. Off (the default):
   * validity is checked at the payload's signedDate, so a notification Apple signed while its
   * certificate was valid still verifies after the certificate expired, and nothing leaves the host.
   */
  onlineChecks?: boolean;
  /** Ask this OCSP responder instead of the one each certificate names. */
  ocspUrl?: string | null;
  ocspTimeoutMs?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
  /** Verified chains kept (default 64) and for how long (default 15 min). */
  cacheSize?: number;
  cacheTtlMs?: number;
}

/** A JWS decoded far enough to find its chain; the signature is not checked yet. */
interface DecodedJws {
  parts: CompactJws;
  /** The signing input's bytes, in a scratch buffer: valid until the next JWS is decoded. */
  signingInput: Buffer;
  payload: Record<string, unknown>;
  leafX5c: string;
  intermediateX5c: string;
  /** The chain, when the header is the one the previous JWS had (see #lastHeader). */
  chain: CachedChain | undefined;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`AppleJwsVerifier: ${name} must be a positive integer`);
  return value;
}

function describeAlg(alg: unknown): string {
  return typeof alg === "string" ? JSON.stringify(alg.slice(0, 32)) : alg === undefined ? "none given" : typeof alg;
}

/**
 * Verifies the compact JWS Apple signs App Store Server Notifications V2 with (and the
 * signedTransactionInfo / signedRenewalInfo inside them): ES256 over an x5c chain that must end at
 * a trusted root, with the rules of Apple's App Store Server Library (see chain.ts, ocsp.ts).
 *
 * Verified chains are cached by their certificates, so in steady state one JWS costs its decoding
 * and one ECDSA verification; each hit still checks that JWS's date against the chain's validity.
 */
export class AppleJwsVerifier {
  readonly #roots: readonly ParsedCertificate[];
  readonly #online: boolean;
  readonly #ocspUrl: string | null;
  readonly #ocspTimeoutMs: number;
  readonly #now: () => number;
  readonly #cache: ChainCache;
  /** Online chain checks under way, so concurrent JWS of one new chain share one OCSP round. */
  readonly #pending = new Map<string, Promise<CachedChain>>();
  /**
   * The header text of the last JWS whose chain was found, and that chain. Apple signs with one
   * chain for months, so consecutive JWS carry byte-identical headers: one string comparison then
   * replaces decoding the header (most of a JWS's bytes besides a large payload) and the cache
   * lookup. It remembers a parse of exact text only; dates, expiry and signature are still checked.
   */
  #lastHeader = "";
  #lastChain: CachedChain | undefined;

  constructor(options: AppleJwsVerifierOptions) {
    if (options.trustedRoots.length === 0) throw new Error("AppleJwsVerifier: at least one trusted root is required");
    this.#roots = options.trustedRoots.map((der, index) => {
      try {
        return parseCertificate(der);
      } catch {
        throw new Error(`AppleJwsVerifier: trusted root #${index} is not a DER X.509 certificate`);
      }
    });
    this.#online = options.onlineChecks ?? false;
    this.#ocspUrl = options.ocspUrl ?? null;
    this.#ocspTimeoutMs = positiveInteger(options.ocspTimeoutMs, DEFAULT_OCSP_TIMEOUT_MS, "ocspTimeoutMs");
    this.#now = options.now ?? Date.now;
    this.#cache = new ChainCache(
      positiveInteger(options.cacheSize, DEFAULT_CACHE_SIZE, "cacheSize"),
      positiveInteger(options.cacheTtlMs, DEFAULT_CACHE_TTL_MS, "cacheTtlMs"),
      this.#now,
    );
  }

  /** Verifies one compact JWS and returns its decoded payload (a JSON object, still untrusted content). */
  async verify(jws: string): Promise<Record<string, unknown>> {
    if (!this.#online) return this.verifySync(jws);
    const decoded = this.#decode(jws);
    const now = this.#now();
    const cached = decoded.chain ?? this.#cache.get(decoded.leafX5c, decoded.intermediateX5c);
    if (cached !== undefined) return this.#finish(decoded, this.#found(decoded, cached), now);
    const checked = await this.#verifyOnline(decoded, now);
    // Other calls used the scratch buffers during the await: encode the signing input again.
    decoded.signingInput = encodeSigningInput(jws, decoded.parts.signingInputEnd);
    return this.#finish(decoded, this.#found(decoded, checked), now);
  }

  /** Synchronous fast path when online checks are off (throws AppleJwsError). */
  verifySync(jws: string): Record<string, unknown> {
    if (this.#online) throw new Error("AppleJwsVerifier.verifySync: online checks are on, use verify()");
    const decoded = this.#decode(jws);
    const signedDate = decoded.payload.signedDate;
    if (typeof signedDate !== "number" || !Number.isFinite(signedDate))
      throw malformed("the payload's signedDate is missing or not a number");
    let chain = decoded.chain ?? this.#cache.get(decoded.leafX5c, decoded.intermediateX5c);
    if (chain === undefined) {
      // Offline, what a chain proves does not depend on time: it is cached before the date check,
      // which runs against every JWS in #finish.
      chain = this.#remember(decoded, verifyChain(decoded.leafX5c, decoded.intermediateX5c, this.#roots));
    }
    return this.#finish(decoded, this.#found(decoded, chain), signedDate);
  }

  #decode(jws: string): DecodedJws {
    const parts = splitCompactJws(jws);
    // Also proves header and payload ASCII, so their base64url decoding need not look again.
    const signingInput = encodeSigningInput(jws, parts.signingInputEnd);
    // The payload first, as Apple's library reads it: its signedDate is the offline effective date.
    const payload = decodeJsonObject(parts.payload, "payload", true);
    const last = this.#lastChain;
    if (last !== undefined && parts.header === this.#lastHeader) {
      if (this.#now() < last.expiresAt) {
        return { parts, signingInput, payload, leafX5c: last.leafX5c, intermediateX5c: last.intermediateX5c, chain: last };
      }
      this.#lastChain = undefined;
    }
    const header = decodeJsonObject(parts.header, "header", true);
    if (header.alg !== "ES256") throw unauthenticated(`the JWS alg must be ES256, got ${describeAlg(header.alg)}`);
    // RFC 7515 §4.1.11: extensions listed in crit must be understood; Apple uses none.
    if (header.crit !== undefined) throw malformed("the JWS header has crit, which Apple's JWS never carry");
    const x5c = header.x5c;
    if (!Array.isArray(x5c)) throw malformed("the JWS header has no x5c certificate chain");
    if (x5c.length !== 3) throw malformed(`x5c must hold 3 certificates, got ${x5c.length}`);
    const [leafX5c, intermediateX5c, rootX5c] = x5c as unknown[];
    if (typeof leafX5c !== "string" || typeof intermediateX5c !== "string" || typeof rootX5c !== "string") {
      throw malformed("x5c entries must be base64 strings");
    }
    return { parts, signingInput, payload, leafX5c, intermediateX5c, chain: undefined };
  }

  /** Remembers the header that led to `chain`, for the next JWS. */
  #found(decoded: DecodedJws, chain: CachedChain): CachedChain {
    if (decoded.chain === undefined) {
      this.#lastHeader = decoded.parts.header;
      this.#lastChain = chain;
    }
    return chain;
  }

  #remember(decoded: DecodedJws, chain: VerifiedChain): CachedChain {
    return this.#cache.set(decoded.leafX5c, decoded.intermediateX5c, chain.leaf.publicKey, chain.validFrom, chain.validTo);
  }

  /** The chain's validity at the JWS's effective date, then the signature: the steady-state work. */
  #finish(decoded: DecodedJws, chain: CachedChain, effectiveDate: number): Record<string, unknown> {
    if (effectiveDate < chain.validFrom - MAX_SKEW_MS || effectiveDate > chain.validTo + MAX_SKEW_MS) {
      throw unauthenticated(
        `the certificate chain is not valid at ${this.#online ? "the current time" : "the payload's signedDate"} (${isoOrNumber(effectiveDate)})`,
      );
    }
    const { signature } = decoded.parts;
    if (signature.length !== ES256_SIGNATURE_CHARS) throw malformed("the JWS signature is not 64 bytes, as ES256 signatures are");
    if (!verifySignature("sha256", decoded.signingInput, chain.verifyKey, decodeSignature(signature))) {
      throw unauthenticated("the JWS signature does not verify");
    }
    return decoded.payload;
  }

  #verifyOnline(decoded: DecodedJws, now: number): Promise<CachedChain> {
    const key = `${decoded.leafX5c}\n${decoded.intermediateX5c}`;
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#checkOnline(decoded, now).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return pending;
  }

  async #checkOnline(decoded: DecodedJws, now: number): Promise<CachedChain> {
    const chain = verifyChain(decoded.leafX5c, decoded.intermediateX5c, this.#roots);
    // Dates before revocation, as Apple's library orders them: an expired chain needs no OCSP round.
    if (now < chain.validFrom - MAX_SKEW_MS || now > chain.validTo + MAX_SKEW_MS) {
      throw unauthenticated(`the certificate chain is not valid at the current time (${isoOrNumber(now)})`);
    }
    const options = { urlOverride: this.#ocspUrl, timeoutMs: this.#ocspTimeoutMs, now };
    const results = await Promise.allSettled([
      checkOcsp({ ...options, cert: chain.leaf, issuer: chain.intermediate, what: "leaf" }),
      checkOcsp({ ...options, cert: chain.intermediate, issuer: chain.root, what: "intermediate" }),
    ]);
    const errors = results.flatMap((result) => (result.status === "rejected" ? [result.reason as unknown] : []));
    // A definite "no" (revoked, bad signature) outranks "could not ask": retrying would not help.
    const definite = errors.find((error) => !(error instanceof AppleJwsError) || error.failure !== "retryable");
    if (definite !== undefined || errors.length > 0) throw definite ?? errors[0];
    // The entry now also stands for the OCSP answers, until it expires.
    return this.#remember(decoded, chain);
  }
}

function isoOrNumber(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}
