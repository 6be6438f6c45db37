/**
 * The request headers stored with a notification: what a later reader needs to re-verify or
 * audit it. Credentials (Authorization, Google's OIDC bearer token) are never stored.
 */
const KEPT = new Set(["content-type", "content-length", "user-agent", "stripe-signature", "x-forwarded-for"]);
const KEPT_PREFIXES = ["x-goog-", "x-apple-", "x-cloud-trace-context"];

export function keptHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (KEPT.has(lower) || KEPT_PREFIXES.some((prefix) => lower.startsWith(prefix))) {
      kept[lower] = Array.isArray(value) ? value.join(", ") : value;
    }
  }
  return kept;
}

export function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}
