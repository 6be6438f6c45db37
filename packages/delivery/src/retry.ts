// When to try a failed delivery again. Pure functions: the worker keeps the attempt count and
// schedules the next attempt with the delay returned here.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Svix's schedule (config.default.toml `retry_schedule = [5,300,1800,7200,18000,36000,36000]`):
 * entry n-1 is the delay before retry n. With the first attempt that is 8 attempts over ~27.5 h.
 */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
]);

/** ±20 %: spreads retries of many deliveries that failed together (an endpoint outage). */
const JITTER_FRACTION = 0.2;

/**
 * Delay before the next attempt, or null when the schedule is exhausted (give up).
 *
 * @param failedAttempts attempts made so far, all failed (1 after the first failure). With a
 *   schedule of n entries, attempts n+1 and later get null, so there are at most n+1 attempts.
 * @param random source in [0, 1), injectable for tests.
 * @param retryAfterMs the endpoint's Retry-After hint. It can lengthen the delay (never shorten
 *   it), up to the schedule's longest entry, so an endpoint cannot park a delivery for days.
 */
export function nextRetryDelayMs(
  failedAttempts: number,
  schedule: readonly number[],
  random: () => number = Math.random,
  retryAfterMs?: number | null,
): number | null {
  if (!Number.isInteger(failedAttempts) || failedAttempts < 1) {
    throw new RangeError(`failedAttempts must be an integer >= 1, got ${failedAttempts}`);
  }
  const scheduled = schedule[failedAttempts - 1];
  if (scheduled === undefined) return null;

  const factor = 1 + (random() * 2 - 1) * JITTER_FRACTION;
  const jittered = Math.max(0, Math.round(scheduled * factor));

  if (retryAfterMs !== undefined && retryAfterMs !== null && Number.isFinite(retryAfterMs) && retryAfterMs > jittered) {
    const cap = Math.max(...schedule);
    return Math.max(jittered, Math.min(Math.round(retryAfterMs), cap));
  }
  return jittered;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR };
const ENTRY_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;

/**
 * Parses a schedule from configuration: comma-separated durations with unit ms, s, m or h; a plain
 * number is milliseconds. "5s,5m,30m,2h" → [5000, 300000, 1800000, 7200000].
 * Throws an Error naming the offending entry on anything else (empty list or entry, negative
 * numbers, unknown units).
 */
export function parseRetrySchedule(text: string): number[] {
  if (text.trim() === "") {
    throw new Error('invalid retry schedule: it is empty; expected e.g. "5s,5m,30m,2h"');
  }
  return text.split(",").map((rawEntry, index) => {
    const entry = rawEntry.trim();
    const match = ENTRY_PATTERN.exec(entry);
    const amount = match?.[1];
    const unit = match?.[2] ?? "ms";
    const unitMs = UNIT_MS[unit];
    const ms = amount === undefined || unitMs === undefined ? Number.NaN : Math.round(Number(amount) * unitMs);
    if (!Number.isSafeInteger(ms)) {
      throw new Error(`invalid retry schedule "${text}": entry ${index + 1} ("${entry}") is not a duration like 500ms, 5s, 5m or 2h`);
    }
    return ms;
  });
}
