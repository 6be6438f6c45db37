/**
 * An event's `sequence` is built from the store's time of its notification, so it increases in
 * store order even when notifications arrive out of order: a late, older notification gets a lower
 * sequence than the newer events already sent, and consumers can discard it as stale (docs/API.md).
 * Each store millisecond owns SLOTS_PER_MS consecutive values; events of one notification, and
 * notifications sharing a store timestamp (Stripe's are whole seconds), take the next free slots.
 */
export const SLOTS_PER_MS = 1000;

export function sequenceBase(storeEventAt: Date): bigint {
  return BigInt(storeEventAt.getTime()) * BigInt(SLOTS_PER_MS);
}

/** The next free sequence in the slot range of `storeEventAt`, given the highest one taken there. */
export function nextSequence(storeEventAt: Date, highestTaken: bigint | null): bigint {
  const base = sequenceBase(storeEventAt);
  if (highestTaken === null || highestTaken < base) return base;
  const next = highestTaken + 1n;
  if (next >= base + BigInt(SLOTS_PER_MS)) {
    throw new Error(`more than ${SLOTS_PER_MS} events share the store time ${storeEventAt.toISOString()}`);
  }
  return next;
}
