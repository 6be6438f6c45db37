import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The id a sealed value carries for the key that sealed it: a hash prefix, so it reveals nothing of the key. */
function keyIdOf(key: Buffer): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 8);
}

/** A value sealed with a key this process does not have (SUBGATE_ENCRYPTION_KEY lacks it). */
export class UnknownEncryptionKeyError extends Error {
  override readonly name = "UnknownEncryptionKeyError";
  constructor(
    /** The id the sealed value names; safe to show (a hash prefix of the key). */
    readonly keyId: string,
    configured: readonly string[],
  ) {
    super(`sealed with encryption key ${keyId}, which is not among the configured keys (${configured.join(", ")})`);
  }
}

/**
 * Encrypts store credentials and webhook secrets at rest with AES-256-GCM.
 * Stored form: `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts). The key id names the key
 * that sealed the value, so a key ring can hold several keys during a rotation: the first key
 * seals, and every key opens what it sealed.
 */
export class SecretBox {
  private readonly keys: ReadonlyMap<string, Buffer>;
  /** The key new values are sealed with (the first one given). */
  readonly keyId: string;

  constructor(keys: Buffer | readonly Buffer[]) {
    const list = Buffer.isBuffer(keys) ? [keys] : keys;
    if (list.length === 0) throw new Error("at least one encryption key is needed");
    const byId = new Map<string, Buffer>();
    for (const key of list) {
      if (key.length !== 32) throw new Error("an encryption key must be 32 bytes");
      byId.set(keyIdOf(key), key);
    }
    this.keys = byId;
    this.keyId = keyIdOf(list[0] as Buffer);
  }

  /** A comma-separated list of keys (see parseKeyList); the first one seals. */
  static fromString(encoded: string): SecretBox {
    return new SecretBox(parseKeyList(encoded));
  }

  /** The ids of every key in the ring, the sealing key first. */
  get keyIds(): string[] {
    return [this.keyId, ...[...this.keys.keys()].filter((id) => id !== this.keyId)];
  }

  seal(plaintext: string): string {
    const key = this.keys.get(this.keyId) as Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString("base64url"));
    return ["v1", this.keyId, ...parts].join(".");
  }

  open(sealed: string): string {
    const [version, keyId, iv, tag, ciphertext] = sealed.split(".");
    if (version !== "v1" || keyId === undefined || iv === undefined || tag === undefined || ciphertext === undefined) {
      throw new Error("not a sealed secret");
    }
    const key = this.keys.get(keyId);
    if (key === undefined) throw new UnknownEncryptionKeyError(keyId, this.keyIds);
    const ivBytes = Buffer.from(iv, "base64url");
    const tagBytes = Buffer.from(tag, "base64url");
    // GCM accepts shorter tags, which authenticate less: only what seal() writes is accepted.
    if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw new Error("not a sealed secret");
    const decipher = createDecipheriv("aes-256-gcm", key, ivBytes, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tagBytes);
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
  }

  /** Opens a value and seals it again with the sealing key (a key rotation's step for one value). */
  reseal(sealed: string): string {
    return this.seal(this.open(sealed));
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson(sealed: string): unknown {
    return JSON.parse(this.open(sealed));
  }
}

/** The key id a sealed value names, or null when it is not a sealed value. */
export function sealedKeyId(sealed: string): string | null {
  const [version, keyId] = sealed.split(".");
  return version === "v1" && keyId ? keyId : null;
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

/**
 * A comma-separated list of keys, as SUBGATE_ENCRYPTION_KEY takes it during a rotation (the new key
 * first). Errors name the entry by position, never by value: the value is a secret.
 */
export function parseKeyList(encoded: string): Buffer[] {
  const entries = encoded.split(",").map((entry) => entry.trim());
  const keys = entries.map((entry, index) => {
    try {
      return parseKey(entry);
    } catch (error) {
      const where = entries.length === 1 ? "" : `key ${index + 1} of ${entries.length}: `;
      throw new Error(`${where}${entry === "" ? "is empty" : (error as Error).message}`);
    }
  });
  const ids = keys.map(keyIdOf);
  const repeated = ids.findIndex((id, index) => ids.indexOf(id) !== index);
  if (repeated !== -1) throw new Error(`key ${repeated + 1} of ${keys.length} is listed twice`);
  return keys;
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
