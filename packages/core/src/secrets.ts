import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

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
    const iv = randomBytes(12);
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
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson(sealed: string): unknown {
    return JSON.parse(this.open(sealed));
  }
}

export function parseKey(encoded: string): Buffer {
  const trimmed = encoded.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64url");
  if (key.length !== 32) throw new Error("must be 32 bytes, given as 64 hex characters or base64");
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
