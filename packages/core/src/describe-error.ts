import { sqlStateOf } from "./errors.ts";

const MAX_LENGTH = 500;

/**
 * A short text of an error for a row's `last_error` or a readiness answer. Prisma's messages quote
 * the query's source and data at length; what an operator needs is PostgreSQL's own words, or the
 * last line.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, MAX_LENGTH);
  const code = sqlStateOf(error);
  if (code !== null) {
    const original = findOriginalMessage(error);
    return `PostgreSQL error ${code}${original ? `: ${original}` : ""}`.slice(0, MAX_LENGTH);
  }
  const lines = error.message
    .trim()
    .split("\n")
    .filter((line) => line.trim() !== "");
  const text = error.name === "PrismaClientValidationError" ? (lines.at(-1) ?? error.message) : error.message;
  return text.trim().slice(0, MAX_LENGTH);
}

function findOriginalMessage(error: Error): string | null {
  const cause = (error as { meta?: { driverAdapterError?: { cause?: { originalMessage?: unknown } } } }).meta?.driverAdapterError?.cause;
  if (typeof cause?.originalMessage === "string") return cause.originalMessage;
  return (error as { severity?: unknown }).severity !== undefined ? error.message : null;
}
