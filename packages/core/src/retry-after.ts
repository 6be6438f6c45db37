// One reading of Retry-After for every HTTP client subgate has: webhook endpoints, Apple's and Google's APIs.

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3) → ms from now; null if unusable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | null {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (raw === undefined || raw === "") return null;
  if (/^\d+$/.test(raw)) {
    const ms = Number(raw) * 1000;
    return Number.isSafeInteger(ms) ? ms : null;
  }
  // Every HTTP-date form names a month; without this, Date.parse would read "-5" as a year.
  if (!/[a-z]/i.test(raw)) return null;
  const date = Date.parse(raw);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}
