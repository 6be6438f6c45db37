/**
 * PostgreSQL text cannot hold NUL (the query fails with 22021), and a lone UTF-16 surrogate has no
 * UTF-8 form: text columns silently store U+FFFD instead, and jsonb refuses it (22P05). A string
 * with either cannot be stored as given.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what PostgreSQL text cannot hold
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * The path (`a.b.0`) of the first string or object key in `value` that PostgreSQL cannot store as
 * given; `""` when `value` itself is such a string; null when everything is storable.
 */
export function unstorableTextAt(value: unknown): string | null {
  // Iterative: a signed or posted body may nest deeply within its size limit.
  const pending: Array<[unknown, string]> = [[value, ""]];
  for (let entry = pending.pop(); entry !== undefined; entry = pending.pop()) {
    const [current, path] = entry;
    if (typeof current === "string") {
      if (UNSTORABLE.test(current)) return path;
    } else if (typeof current === "object" && current !== null && !(current instanceof Date)) {
      for (const [key, child] of Object.entries(current)) {
        if (UNSTORABLE.test(key)) return path;
        pending.push([child, path ? `${path}.${key}` : key]);
      }
    }
  }
  return null;
}
