import type { webcrypto } from "node:crypto";
import { importJWK, type JWK } from "jose";
import { VerificationError } from "../../adapter.ts";
import { GOOGLE_DEFAULTS } from "../config.ts";

/*
 * Google's JWK set, which signs the OIDC tokens Pub/Sub pushes carry. Ours because
 * google-auth-library's verifyIdToken reads the PEM endpoint instead, and jose's createRemoteJWKSet
 * ignores Cache-Control.
 *
 * Cache rule: the set is fresh for Cache-Control max-age minus Age seconds, 5 min when the answer
 * has no max-age, and always between 60 s and 24 h: no-store, no-cache and max-age=0 count as 60 s,
 * so a push per request cannot become a fetch per request, and a key Google removed is dropped
 * within a day whatever the header says. A new key needs no wait: a kid the set lacks refetches
 * at once, at most once per `unknownKidRefetchMs`.
 */

/** An RS256 public key of Google's, ready for jose's jwtVerify. */
export type GoogleSigningKey = webcrypto.CryptoKey;

const MIN_FRESH_MS = 60_000;
const MAX_FRESH_MS = 24 * 60 * 60_000;
const DEFAULT_FRESH_MS = 5 * 60_000;
/** Google's set is about 2 KB; anything this large is not it. */
const MAX_BODY_BYTES = 256 * 1024;

export interface GoogleJwksOptions {
  /** GOOGLE_OIDC_CERTS_URL. Default: Google's. */
  url?: string;
  /** At most one refetch for an unknown kid per this many ms, shared by every caller. Default 30 s. */
  unknownKidRefetchMs?: number;
  /** Deadline of one fetch: connecting, the answer and its body. Default 5 s. */
  timeoutMs?: number;
  now?: () => number;
  fetch?: typeof globalThis.fetch;
}

interface KeySet {
  keys: ReadonlyMap<string, GoogleSigningKey>;
  freshUntil: number;
}

export class GoogleJwks {
  readonly #url: string;
  readonly #unknownKidRefetchMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #fetch: typeof globalThis.fetch;
  #set: KeySet | null = null;
  /** The fetch under way: every caller that needs one then waits for this one. */
  #inFlight: Promise<KeySet> | null = null;
  #lastUnknownKidRefetchAt = Number.NEGATIVE_INFINITY;
  /** Why the last fetch failed, while no fetch has succeeded since. */
  #lastFailure: VerificationError | null = null;

  constructor(options: GoogleJwksOptions = {}) {
    this.#url = options.url ?? GOOGLE_DEFAULTS.oidcCertsUrl;
    this.#unknownKidRefetchMs = options.unknownKidRefetchMs ?? 30_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#now = options.now ?? Date.now;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * The RS256 key Google signs with under `kid`, or null when Google's set has no such key.
   * Throws VerificationError("unavailable") when the set could not be fetched: Pub/Sub retries.
   */
  async key(kid: string): Promise<GoogleSigningKey | null> {
    const { set, fetchedForThisCall } = await this.#currentSet();
    const found = set.keys.get(kid);
    if (found) return found;
    // A set fetched while this call waited is as new as a refetch would be.
    if (fetchedForThisCall) return null;
    if (this.#inFlight) return (await this.#inFlight).keys.get(kid) ?? null;
    if (this.#now() - this.#lastUnknownKidRefetchAt < this.#unknownKidRefetchMs) {
      // The last refetch may have ended after this call read the set.
      const latest = this.#set?.keys.get(kid);
      if (latest) return latest;
      // Whether the kid is Google's is not known while Google's set cannot be read.
      if (this.#lastFailure) throw this.#lastFailure;
      return null;
    }
    this.#lastUnknownKidRefetchAt = this.#now();
    return (await this.#refetch()).keys.get(kid) ?? null;
  }

  async #currentSet(): Promise<{ set: KeySet; fetchedForThisCall: boolean }> {
    const set = this.#set;
    if (set && this.#now() < set.freshUntil) return { set, fetchedForThisCall: false };
    return { set: await this.#refetch(), fetchedForThisCall: true };
  }

  #refetch(): Promise<KeySet> {
    this.#inFlight ??= this.#fetchSet().then(
      (set) => {
        this.#set = set;
        this.#lastFailure = null;
        this.#inFlight = null;
        return set;
      },
      (error: unknown) => {
        this.#inFlight = null;
        if (error instanceof VerificationError) this.#lastFailure = error;
        throw error;
      },
    );
    return this.#inFlight;
  }

  async #fetchSet(): Promise<KeySet> {
    let response: Response;
    let body: string;
    try {
      response = await this.#fetch(this.#url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(this.#timeoutMs) });
      if (!response.ok) {
        await response.body?.cancel();
        throw unavailable(`HTTP ${response.status}`);
      }
      body = await readCapped(response);
    } catch (error) {
      if (error instanceof VerificationError) throw error;
      throw unavailable(describeFetchError(error, this.#timeoutMs));
    }
    const keys = await importKeys(body);
    const freshMs = Math.min(MAX_FRESH_MS, Math.max(MIN_FRESH_MS, freshnessMs(response.headers)));
    return { keys, freshUntil: this.#now() + freshMs };
  }
}

/** How long the answer is fresh by its own headers: max-age less Age; 0 for no-store and no-cache. */
export function freshnessMs(headers: Headers): number {
  const directives = (headers.get("cache-control") ?? "")
    .split(",")
    .map((directive) => directive.trim().toLowerCase())
    .filter(Boolean);
  if (directives.some((directive) => directive === "no-store" || directive === "no-cache")) return 0;
  const maxAge = directives.map((directive) => /^max-age="?(\d+)"?$/.exec(directive)?.[1]).find((value) => value !== undefined);
  if (maxAge === undefined) return DEFAULT_FRESH_MS;
  const age = /^\d+$/.exec(headers.get("age")?.trim() ?? "")?.[0];
  return Math.max(0, Number(maxAge) - Number(age ?? 0)) * 1000;
}

/** The set's RS256 signing keys by kid. Keys of other kinds are skipped; a set without any is refused. */
async function importKeys(body: string): Promise<Map<string, GoogleSigningKey>> {
  let keys: unknown;
  try {
    keys = (JSON.parse(body) as { keys?: unknown }).keys;
  } catch {
    throw unavailable("the answer is not JSON");
  }
  if (!Array.isArray(keys)) throw unavailable("the answer is not a JWK set");
  const imported = new Map<string, GoogleSigningKey>();
  for (const jwk of keys as JWK[]) {
    if (typeof jwk !== "object" || jwk === null || typeof jwk.kid !== "string" || imported.has(jwk.kid)) continue;
    if (jwk.kty !== "RSA" || (jwk.alg !== undefined && jwk.alg !== "RS256") || (jwk.use !== undefined && jwk.use !== "sig")) continue;
    try {
      const key = await importJWK(jwk, "RS256");
      // WebCrypto imports even an empty modulus; jose would refuse to verify with under 2048 bits.
      if (!(key instanceof Uint8Array) && modulusBits(key) >= 2048) imported.set(jwk.kid, key);
    } catch {
      // One key Google may have added in a form this build cannot read does not spoil the others.
    }
  }
  if (imported.size === 0) throw unavailable("the set holds no RS256 signing key");
  return imported;
}

function modulusBits(key: GoogleSigningKey): number {
  return (key.algorithm as Partial<webcrypto.RsaHashedKeyAlgorithm>).modulusLength ?? 0;
}

async function readCapped(response: Response): Promise<string> {
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    // Throwing out of the loop cancels the rest of the body.
    if (size > MAX_BODY_BYTES) throw unavailable(`the answer is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return `no answer within ${timeoutMs} ms`;
  // fetch says "fetch failed" and puts what happened (ECONNREFUSED, a TLS error) in cause.
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return cause.code;
  return error instanceof Error ? error.message.slice(0, 200) : "network error";
}

function unavailable(detail: string): VerificationError {
  return new VerificationError("unavailable", `Google's OIDC keys could not be fetched: ${detail}`);
}
