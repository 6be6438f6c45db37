import { randomBytes } from "node:crypto";

// Ids are a readable prefix plus 128 random bits in base32 (Crockford alphabet, lower case): URL-safe,
// no `:` (BullMQ job ids), and unguessable, so an id leaks nothing about volume or order.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export const ID_PREFIXES = {
  app: "app",
  apiKey: "key",
  notification: "ntf",
  subscription: "sub",
  event: "evt",
  endpoint: "ep",
  delivery: "msg",
  attempt: "atm",
  replay: "rpl",
} as const;

export function newId(kind: keyof typeof ID_PREFIXES): string {
  return `${ID_PREFIXES[kind]}_${base32(randomBytes(16))}`;
}

/** A 256-bit random token, base64url: secret API keys and ingress URL tokens. */
export function newToken(prefix = ""): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}
