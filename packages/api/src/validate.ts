import type { z } from "zod";
import { AppError } from "@subgate/core";

/** Parses input with a zod schema; a mismatch is a 400 naming each field that is wrong. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));
  const first = details[0];
  throw new AppError("bad_request", first ? `${first.path || "body"}: ${first.message}` : "invalid input", details);
}
