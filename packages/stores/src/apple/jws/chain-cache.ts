import type { KeyObject } from "node:crypto";

/** What a verified chain leaves for the hot path: the leaf's key and when the chain is valid. */
export interface CachedChain {
  readonly leafX5c: string;
  readonly intermediateX5c: string;
  /** node:crypto's verify options for the leaf's key, built once: JWS ES256 signatures are raw r || s. */
  readonly verifyKey: { readonly key: KeyObject; readonly dsaEncoding: "ieee-p1363" };
  /** The intersection of the leaf's, the intermediate's and the root's notBefore..notAfter (ms). */
  readonly validFrom: number;
  readonly validTo: number;
  readonly expiresAt: number;
}

/**
 * Verified chains, keyed by the exact x5c text of the leaf and the intermediate. Bounded (oldest
 * entry out first) and expiring, so a chain Apple has since revoked stops being trusted without a
 * restart once online checks run again. A hit costs one Map lookup on the leaf's text and one string
 * comparison of the intermediate's: the Map is keyed by the leaf alone so no key is built per JWS.
 */
export class ChainCache {
  private readonly entries = new Map<string, CachedChain>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get(leafX5c: string, intermediateX5c: string): CachedChain | undefined {
    const entry = this.entries.get(leafX5c);
    if (entry === undefined || entry.intermediateX5c !== intermediateX5c) return undefined;
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(leafX5c);
      return undefined;
    }
    return entry;
  }

  set(leafX5c: string, intermediateX5c: string, key: KeyObject, validFrom: number, validTo: number): CachedChain {
    const entry: CachedChain = {
      leafX5c,
      intermediateX5c,
      verifyKey: { key, dsaEncoding: "ieee-p1363" },
      validFrom,
      validTo,
      expiresAt: this.now() + this.ttlMs,
    };
    // Re-inserting moves the key to the end: Map order is then oldest first.
    this.entries.delete(leafX5c);
    this.entries.set(leafX5c, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }
}
