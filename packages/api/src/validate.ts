import type { z } from "zod";
import { AppError, unstorableTextAt } from "@subgate/core";

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
