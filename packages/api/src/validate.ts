import type { z } from "zod";
import { AppError } from "@subgate/core";

/**
 * PostgreSQL text cannot hold NUL (the query fails), and a lone UTF-16 surrogate has no UTF-8 form
 * (text columns would silently store U+FFFD instead, jsonb refuses it).
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path of the first string or key in `value` that cannot be stored as sent; null if none. */
function unstorableTextAt(value: unknown): string | null {
  // Iterative: a body may nest deeply within the size limit.
  const pending: Array<[unknown, string]> = [[value, ""]];
  for (let entry = pending.pop(); entry !== undefined; entry = pending.pop()) {
    const [current, path] = entry;
    if (typeof current === "string") {
      if (UNSTORABLE.test(current)) return path;
    } else if (typeof current === "object" && current !== null) {
      for (const [key, child] of Object.entries(current)) {
        if (UNSTORABLE.test(key)) return path;
        pending.push([child, path ? `${path}.${key}` : key]);
      }
    }
  }
  return null;
}

/** Parses input with a zod schema; a mismatch is a 400 naming each field that is wrong. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) {
    const at = unstorableTextAt(result.data);
    if (at === null) return result.data;
    const message = "must not contain NUL characters or unpaired surrogates";
    throw new AppError("bad_request", `${at || "body"}: ${message}`, [{ path: at, message }]);
  }
  const details = result.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));
  const first = details[0];
  throw new AppError("bad_request", first ? `${first.path || "body"}: ${first.message}` : "invalid input", details);
}
