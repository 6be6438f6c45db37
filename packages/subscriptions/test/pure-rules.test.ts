import { describe, expect, it } from "vitest";
import { endpointWants, isStale, nextSequence, sequenceBase, stateColumns } from "../src/index.ts";

describe("sequence", () => {
  const at = new Date("2026-01-01T00:00:00.000Z");
  it("starts at the store time's base and takes the next free slot", () => {
    expect(nextSequence(at, null)).toBe(sequenceBase(at));
    expect(nextSequence(at, sequenceBase(at))).toBe(sequenceBase(at) + 1n);
    expect(nextSequence(at, sequenceBase(at) - 5n)).toBe(sequenceBase(at));
  });
  it("orders by store time, not arrival", () => {
    const later = new Date(at.getTime() + 1);
    expect(nextSequence(at, sequenceBase(at) + 998n)).toBeLessThan(nextSequence(later, null));
  });
  it("refuses to spill into the next millisecond's range", () => {
    expect(() => nextSequence(at, sequenceBase(at) + 999n)).toThrow(/share the store time/);
  });
  it("stays a safe JSON integer for store times far in the future", () => {
    expect(Number.isSafeInteger(Number(sequenceBase(new Date("2200-01-01T00:00:00Z")) + 999n))).toBe(true);
  });
});

describe("staleness and state patches", () => {
  it("treats only strictly older notifications as stale", () => {
    const applied = { at: new Date(1_000), rank: 0 };
    expect(isStale({ at: new Date(999), rank: 0 }, applied)).toBe(true);
    expect(isStale({ at: new Date(1_000), rank: 0 }, applied)).toBe(false);
    expect(isStale({ at: new Date(0), rank: 0 }, { at: null, rank: 0 })).toBe(false);
  });
  it("orders notifications of the same store time by rank, and lets the later processed win a full tie", () => {
    const applied = { at: new Date(1_000), rank: 1 };
    expect(isStale({ at: new Date(1_000), rank: 0 }, applied)).toBe(true);
    expect(isStale({ at: new Date(1_000), rank: 1 }, applied)).toBe(false);
    expect(isStale({ at: new Date(1_000), rank: 2 }, applied)).toBe(false);
    // The clock comes first: a higher rank does not make an older notification newer.
    expect(isStale({ at: new Date(999), rank: 5 }, applied)).toBe(true);
  });
  it("leaves fields a notification does not know untouched, but clears explicit nulls", () => {
    expect(stateColumns({ status: "active", expires_at_ms: 5_000 })).toEqual({ status: "active", expiresAt: new Date(5_000) });
    expect(stateColumns({ product_id: null })).toEqual({ productId: null });
  });
});

describe("endpoint filters", () => {
  it("treats empty lists as everything", () => {
    expect(endpointWants({ eventTypes: [], environments: [] }, "RENEWAL", "sandbox")).toBe(true);
    expect(endpointWants({ eventTypes: ["RENEWAL"], environments: [] }, "CANCELLATION", "sandbox")).toBe(false);
    expect(endpointWants({ eventTypes: [], environments: ["production"] }, "RENEWAL", "sandbox")).toBe(false);
    expect(endpointWants({ eventTypes: ["TEST"], environments: ["sandbox"] }, "TEST", "sandbox")).toBe(true);
  });
});
