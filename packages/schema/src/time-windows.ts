import { z } from "zod";

/*
 * The times subgate accepts from a store, signed or not. A valid signature proves where a body came
 * from, not that its times make sense, and an unchecked time does lasting harm: a far-future event
 * time pins a subscription's state time, so every later real state counts as stale; a time past
 * JavaScript's or PostgreSQL's range cannot be stored or read back.
 */

/** Event and signing times (when the store says the event happened, or signed the body): from here... */
export const EARLIEST_EVENT_TIME_MS = Date.UTC(2000, 0, 1);
/** ...to this long after subgate received the body (clock skew, and a store that signs as it sends). */
export const EVENT_TIME_AHEAD_MS = 60 * 60 * 1000;

/** Every other time (period ends, expiry, cancel and grace dates): from 1970-01-01... */
export const EARLIEST_TIME_MS = 0;
/**
 * ...to 2255-06-05 (00:00 UTC). `sequence` is a store time in ms × 1000 plus a slot below 1000;
 * later than that it would exceed 2^53 and lose precision as a JSON number.
 */
export const LATEST_TIME_MS = Date.UTC(2255, 5, 5);

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Whole milliseconds since the epoch from `earliest` to LATEST_TIME_MS (bounds first: their messages say more). */
const timeMs = (earliest: number) =>
  z
    .number()
    .min(earliest, `must be a time from ${day(earliest)} on`)
    .max(LATEST_TIME_MS, `must be a time no later than ${day(LATEST_TIME_MS)}`)
    .int();

/** A time field of an event or a state (ms since the epoch), within the window for other times. */
export const TimeMsSchema = timeMs(EARLIEST_TIME_MS);

/** An event time (ms); its upper bound depends on when the body arrived: see eventTimeProblem. */
export const EventTimeMsSchema = timeMs(EARLIEST_EVENT_TIME_MS);

function describeTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

/**
 * Why an event or signing time is outside its window for a body received at `receivedAt`, or null
 * when it is inside. `what` names the time in the message ("event time", "signing time").
 */
export function eventTimeProblem(what: string, time: Date | number, receivedAt: Date): string | null {
  const ms = typeof time === "number" ? time : time.getTime();
  if (!Number.isFinite(ms)) return `${what} is not a valid time`;
  if (ms < EARLIEST_EVENT_TIME_MS) return `${what} ${describeTime(ms)} is before ${day(EARLIEST_EVENT_TIME_MS)}`;
  const latest = receivedAt.getTime() + EVENT_TIME_AHEAD_MS;
  if (ms > latest) {
    return `${what} ${describeTime(ms)} is more than ${EVENT_TIME_AHEAD_MS / 60_000} minutes after subgate received the body (${receivedAt.toISOString()})`;
  }
  return null;
}
