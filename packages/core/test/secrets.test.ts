import { describe, expect, it } from "vitest";
import { parseKey, SecretBox } from "../src/secrets.ts";

/** SecretBox must reject tampered ciphertexts and parseKey must reject what is not a key. */

describe("SecretBox.open", () => {
  it("refuses a sealed value whose GCM tag was truncated (only full 16-byte tags authenticate)", () => {
    const box = new SecretBox(Buffer.alloc(32, 7));
    const [version, keyId, iv, tag, ciphertext] = box.seal("whsec_secret").split(".") as [string, string, string, string, string];
    const short = Buffer.from(tag, "base64url").subarray(0, 4).toString("base64url");
    // A 4-byte tag leaves 2^32 work to forge a ciphertext that "decrypts"; it must be refused like any bad tag.
    expect(() => box.open([version, keyId, iv, short, ciphertext].join("."))).toThrow();
  });
});

describe("parseKey", () => {
  it("refuses a value with characters outside base64/base64url instead of silently skipping them", () => {
    const valid = Buffer.alloc(32, 0x5a).toString("base64url"); // 43 characters
    expect(() => parseKey(`!!!!!!!!${valid}`)).toThrow();
    expect(() => parseKey(`${valid.slice(0, 10)}.${valid.slice(10)}`)).toThrow();
  });

  it("refuses an all-zero key", () => {
    expect(() => parseKey(Buffer.alloc(32).toString("base64"))).toThrow();
    expect(() => parseKey("0".repeat(64))).toThrow();
  });
});
