import { describe, expect, it } from "vitest";
import { DEFAULT_NOTIFICATION_RETRY_SCHEDULE_MS, notificationRetryDelayMs } from "../src/retry-later.ts";

const middle = () => 0.5; // no jitter

describe("notification retry delays", () => {
  it("follow the schedule, then repeat its last entry for as long as the store's API is away", () => {
    const schedule = [100, 1_000, 5_000];
    expect([1, 2, 3, 4, 50].map((attempts) => notificationRetryDelayMs(attempts, schedule, middle))).toEqual([
      100, 1_000, 5_000, 5_000, 5_000,
    ]);
  });

  it("stay within ±20 % of the scheduled delay", () => {
    expect(notificationRetryDelayMs(1, [1_000], () => 0)).toBe(800);
    expect(notificationRetryDelayMs(1, [1_000], () => 0.999_999)).toBe(1_200);
  });

  it("default to 10 s growing to an hour", () => {
    expect(notificationRetryDelayMs(1, DEFAULT_NOTIFICATION_RETRY_SCHEDULE_MS, middle)).toBe(10_000);
    expect(notificationRetryDelayMs(1_000, DEFAULT_NOTIFICATION_RETRY_SCHEDULE_MS, middle)).toBe(3_600_000);
  });

  it("refuse an empty schedule instead of retrying at once forever", () => {
    expect(() => notificationRetryDelayMs(1, [])).toThrow(/empty/);
  });
});
