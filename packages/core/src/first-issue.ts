import type { z } from "zod";

/**
 * The first problem zod found, as one line for an error message: `items.0.price: Invalid input`.
 * `prefix` names where the parsed value sits (`["data", "object"]`); `root` names it when the
 * problem is the value itself.
 */
export function firstIssue(error: z.ZodError, options: { root?: string; prefix?: readonly PropertyKey[] } = {}): string {
  const issue = error.issues[0];
  const path = [...(options.prefix ?? []), ...(issue?.path ?? [])].map(String).join(".");
  return `${path || (options.root ?? "body")}: ${issue?.message ?? "invalid"}`;
}
