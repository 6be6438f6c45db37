import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_SCHEDULE_MS, nextRetryDelayMs, parseRetrySchedule } from "../src/index.ts";

const HOUR = 3_600_000;
const middle = (): number => 0.5; // no jitter

describe("DEFAULT_RETRY_SCHEDULE_MS", () => {
  it("is Svix's schedule", () => {
    expect(DEFAULT_RETRY_SCHEDULE_MS).toEqual([5_000, 300_000, 1_800_000, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
  });
});

describe("nextRetryDelayMs", () => {
  it("follows the schedule and gives up after schedule.length + 1 attempts", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((failed) => nextRetryDelayMs(failed, DEFAULT_RETRY_SCHEDULE_MS, middle));
    expect(delays).toEqual([...DEFAULT_RETRY_SCHEDULE_MS]);
    expect(nextRetryDelayMs(8, DEFAULT_RETRY_SCHEDULE_MS, middle)).toBeNull();
    expect(nextRetryDelayMs(9, DEFAULT_RETRY_SCHEDULE_MS, middle)).toBeNull();
  });

  it("jitters within ±20%", () => {
    expect(nextRetryDelayMs(2, DEFAULT_RETRY_SCHEDULE_MS, () => 0)).toBe(240_000);
    expect(nextRetryDelayMs(2, DEFAULT_RETRY_SCHEDULE_MS, () => 0.999999)).toBeLessThanOrEqual(360_000);
    expect(nextRetryDelayMs(2, DEFAULT_RETRY_SCHEDULE_MS, () => 0.999999)).toBeGreaterThan(359_000);
    expect(nextRetryDelayMs(2, DEFAULT_RETRY_SCHEDULE_MS, () => 0.75)).toBe(330_000);
    for (let i = 0; i < 200; i += 1) {
      const delay = nextRetryDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS) ?? Number.NaN;
      expect(delay).toBeGreaterThanOrEqual(4_000);
      expect(delay).toBeLessThanOrEqual(6_000);
    }
  });

  it("never goes below zero", () => {
    expect(nextRetryDelayMs(1, [0, 10], () => 0)).toBe(0);
    expect(nextRetryDelayMs(1, [-100], () => 0.5)).toBe(0);
  });

  it("uses a larger Retry-After hint, capped at the schedule's longest delay", () => {
    expect(nextRetryDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS, middle, 60_000)).toBe(60_000);
    expect(nextRetryDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS, middle, 1_000)).toBe(5_000);
    expect(nextRetryDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS, middle, 7 * 24 * HOUR)).toBe(10 * HOUR);
    expect(nextRetryDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS, middle, null)).toBe(5_000);
    // The hint does not add attempts.
    expect(nextRetryDelayMs(8, DEFAULT_RETRY_SCHEDULE_MS, middle, 60_000)).toBeNull();
  });

  it("rejects a nonsensical attempt count", () => {
    expect(() => nextRetryDelayMs(0, DEFAULT_RETRY_SCHEDULE_MS)).toThrow(RangeError);
    expect(() => nextRetryDelayMs(1.5, DEFAULT_RETRY_SCHEDULE_MS)).toThrow(RangeError);
  });
});

describe("parseRetrySchedule", () => {
  it("parses units and plain milliseconds", () => {
    expect(parseRetrySchedule("5s,5m,30m,2h")).toEqual([5_000, 300_000, 1_800_000, 2 * HOUR]);
    expect(parseRetrySchedule(" 250ms , 1500, 1.5h ")).toEqual([250, 1_500, 1.5 * HOUR]);
    expect(parseRetrySchedule("0")).toEqual([0]);
  });

  it("parses the default schedule's text form", () => {
    expect(parseRetrySchedule("5s,5m,30m,2h,5h,10h,10h")).toEqual([...DEFAULT_RETRY_SCHEDULE_MS]);
  });

  it.each(["", "  ", "5s,,5m", "5x", "-5s", "5 s", "s", "5d", "1e3", "5s;5m"])("rejects %j with a clear error", (text) => {
    expect(() => parseRetrySchedule(text)).toThrow(/invalid retry schedule/);
  });

  it("names the offending entry", () => {
    expect(() => parseRetrySchedule("5s,oops,2h")).toThrow(/entry 2 \("oops"\)/);
  });
});
