/**
 * Times on the command line and in the CLI's output. Parsing is strict: a time without a zone is
 * refused (the reader's zone or UTC? a replay of the wrong hours would not say so).
 */

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** A parse that failed says why, in words that follow the option's name. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * A duration: `30m`, `24h`, `7d`, `2w`, `90s`, combined as `1h30m`; a bare number is seconds.
 * The value is in milliseconds.
 */
export function parseDuration(text: string): Parsed<number> {
  const trimmed = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return { ok: true, value: Math.round(Number(trimmed) * 1000) };
  if (!/^(\d+[smhdw])+$/.test(trimmed)) {
    return { ok: false, problem: `"${text}" is not a duration (use a number and a unit: 90s, 30m, 24h, 7d, 2w, or 1h30m)` };
  }
  let ms = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) ms += Number(amount) * UNIT_MS[unit as Unit];
  return { ok: true, value: ms };
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * `--since`/`--until`: `now`; a duration, meaning that long before `now` (`7d` is seven days ago);
 * or an ISO 8601 time with `Z` or an offset (`2026-01-01T00:00:00Z`, `2026-01-01T10:00+02:00`). A date
 * alone is midnight UTC.
 */
export function parseTimeArgument(text: string, now: Date): Parsed<Date> {
  const trimmed = text.trim();
  if (trimmed.toLowerCase() === "now") return { ok: true, value: now };
  const duration = parseDuration(trimmed);
  if (duration.ok && !/^\d+(\.\d+)?$/.test(trimmed)) return { ok: true, value: new Date(now.getTime() - duration.value) };

  const dateOnly = DATE_ONLY.exec(trimmed);
  const dateTime = dateOnly ? null : DATE_TIME.exec(trimmed);
  const parts = dateOnly ?? dateTime;
  if (!parts) {
    return { ok: false, problem: `"${text}" is neither an ISO 8601 time (2026-01-01T00:00:00Z) nor a time ago (30m, 24h, 7d)` };
  }
  const [, year, month, day, hour = "00", minute = "00", second = "00", fraction = "", zone] = parts;
  if (dateTime && !zone) {
    return { ok: false, problem: `"${text}" has no time zone: add Z for UTC, or an offset such as +02:00` };
  }
  if (!isCalendarTime(Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second))) {
    return { ok: false, problem: `"${text}" is not a real date and time` };
  }
  const offset = !zone || zone.toUpperCase() === "Z" ? "Z" : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const value = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}${fraction.slice(0, 4)}${offset}`);
  if (Number.isNaN(value.getTime())) return { ok: false, problem: `"${text}" is out of range` };
  return { ok: true, value };
}

/** Date.parse rolls 2026-02-30 over into March; a typo should be refused instead. */
function isCalendarTime(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day >= 1 && day <= daysInMonth;
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "always" });

/** The largest unit that fits, below which the next one takes over (a month here is 30 days). */
const RELATIVE_UNITS: [Intl.RelativeTimeFormatUnit, number, number][] = [
  ["second", UNIT_MS.s, UNIT_MS.m],
  ["minute", UNIT_MS.m, UNIT_MS.h],
  ["hour", UNIT_MS.h, UNIT_MS.d],
  ["day", UNIT_MS.d, 30 * UNIT_MS.d],
  ["month", 30 * UNIT_MS.d, 365 * UNIT_MS.d],
  ["year", 365 * UNIT_MS.d, Number.POSITIVE_INFINITY],
];

/** "3 minutes ago", "in 2 hours" (a gateway whose clock is ahead), "just now". */
export function formatRelative(time: Date, now: Date): string {
  const diff = time.getTime() - now.getTime();
  const abs = Math.abs(diff);
  if (abs < UNIT_MS.s) return "just now";
  const [unit, size] = RELATIVE_UNITS.find(([, , below]) => abs < below) ?? ["year", 365 * UNIT_MS.d];
  return relative.format(Math.sign(diff) * Math.floor(abs / size), unit);
}

/** `2026-12-02 10:00:00Z`: UTC, to the second, readable and still exact enough to find in a log. */
export function formatAbsolute(time: Date): string {
  return `${time.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/**
 * A time the API answered (ISO, or null for "never"), as "3 minutes ago (2026-12-02 10:00:00Z)".
 * Something that does not parse is shown as it came.
 */
export function formatApiTime(value: string | null | undefined, now: Date, never = "never"): string {
  if (value === null || value === undefined) return never;
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) return value;
  return `${formatRelative(time, now)} (${formatAbsolute(time)})`;
}
