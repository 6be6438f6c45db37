import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts store credentials and webhook secrets at rest with AES-256-GCM.
 * Stored form: `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts). The key id (a hash prefix of
 * the key) lets a later key rotation tell which key sealed a value, and makes a wrong key fail clearly.
 */
export class SecretBox {
  private readonly key: Buffer;
  readonly keyId: string;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("the encryption key must be 32 bytes");
    this.key = key;
    this.keyId = createHash("sha256").update(key).digest("base64url").slice(0, 8);
  }

  /** Accepts 32 bytes as base64, base64url or hex (64 characters). */
  static fromString(encoded: string): SecretBox {
    return new SecretBox(parseKey(encoded));
  }

  seal(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString("base64url"));
    return ["v1", this.keyId, ...parts].join(".");
  }

  open(sealed: string): string {
    const [version, keyId, iv, tag, ciphertext] = sealed.split(".");
    if (version !== "v1" || iv === undefined || tag === undefined || ciphertext === undefined) {
      throw new Error("not a sealed secret");
    }
    if (keyId !== this.keyId) {
      throw new Error(`sealed with another encryption key (${keyId}); SUBGATE_ENCRYPTION_KEY has changed`);
    }
    const ivBytes = Buffer.from(iv, "base64url");
    const tagBytes = Buffer.from(tag, "base64url");
    // GCM accepts shorter tags, which authenticate less: only what seal() writes is accepted.
    if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw new Error("not a sealed secret");
    const decipher = createDecipheriv("aes-256-gcm", this.key, ivBytes, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tagBytes);
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson(sealed: string): unknown {
    return JSON.parse(this.open(sealed));
  }
}

/**
 * 32 bytes as 64 hex characters, or base64 / base64url (43 characters, with or without `=`). Node's
 * decoders skip characters they do not know, so the format is checked first, not after decoding.
 */
export function parseKey(encoded: string): Buffer {
  const trimmed = encoded.trim();
  let key: Buffer | null = null;
  if (/^[0-9a-f]{64}$/i.test(trimmed)) key = Buffer.from(trimmed, "hex");
  else if (/^[A-Za-z0-9_-]{43}=?$/.test(trimmed) || /^[A-Za-z0-9+/]{43}=?$/.test(trimmed)) key = Buffer.from(trimmed, "base64");
  if (key === null || key.length !== 32) throw new Error("must be 32 bytes, given as 64 hex characters or base64");
  if (key.every((byte) => byte === 0)) throw new Error("must not be all zeros");
  return key;
}

export function generateKey(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * API keys carry 256 random bits, so one fast hash is enough (no password-style stretching):
 * what matters is that a database leak does not reveal usable keys.
 */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
