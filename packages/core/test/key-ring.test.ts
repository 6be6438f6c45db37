import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateKey, parseKey, parseKeyList, SecretBox, sealedKeyId, UnknownEncryptionKeyError } from "../src/secrets.ts";

/**
 * SecretBox as a key ring (SUBGATE_ENCRYPTION_KEY="new,old" during a rotation): the first key seals,
 * every key opens what it sealed, and a value sealed with a key outside the ring is named by its key
 * id, never by anything of a key.
 */

const A = generateKey();
const B = generateKey();
const C = generateKey();

function idOf(key: string): string {
  return new SecretBox(parseKey(key)).keyId;
}

/** The error `fn` throws (failing the test when it throws nothing). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error, nothing was thrown");
}

describe("a key ring", () => {
  it("seals with the first key: the value names its key id, and the ring lists it first", () => {
    const ring = SecretBox.fromString(`${B},${A}`);
    expect(ring.keyId).toBe(idOf(B));
    expect(ring.keyIds).toEqual([idOf(B), idOf(A)]);
    const sealed = ring.seal("whsec_ring");
    expect(sealed.split(".")).toHaveLength(5);
    expect(sealed.startsWith(`v1.${idOf(B)}.`)).toBe(true);
    expect(sealedKeyId(sealed)).toBe(idOf(B));
    // The first key alone opens it: it really was sealed with B, not with A.
    expect(SecretBox.fromString(B).open(sealed)).toBe("whsec_ring");
    expect(() => SecretBox.fromString(A).open(sealed)).toThrow(UnknownEncryptionKeyError);
  });

  it("opens a value sealed with its second key (the old one during a rotation)", () => {
    const old = SecretBox.fromString(A);
    const sealed = old.seal("whsec_old");
    const ring = SecretBox.fromString(`${B},${A}`);
    expect(ring.open(sealed)).toBe("whsec_old");
    expect(ring.openJson(old.sealJson({ webhook_secrets: ["a", "b"] }))).toEqual({ webhook_secrets: ["a", "b"] });
  });

  it("gives key ids that reveal nothing of the key, and are the same for a key's hex and base64 forms", () => {
    const bytes = randomBytes(32);
    const hex = bytes.toString("hex");
    const base64 = bytes.toString("base64");
    expect(idOf(hex)).toBe(idOf(base64));
    expect(idOf(hex)).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(hex).not.toContain(idOf(hex));
    expect(base64).not.toContain(idOf(hex));
    expect(idOf(A)).not.toBe(idOf(B));
  });

  it("throws UnknownEncryptionKeyError naming the sealing key's id when the ring lacks it", () => {
    const sealed = SecretBox.fromString(A).seal("whsec_lost");
    const ring = SecretBox.fromString(`${B},${C}`);
    const error = thrown(() => ring.open(sealed));
    expect(error).toBeInstanceOf(UnknownEncryptionKeyError);
    expect(error.name).toBe("UnknownEncryptionKeyError");
    expect((error as UnknownEncryptionKeyError).keyId).toBe(idOf(A));
    expect(error.message).toContain(idOf(A));
    // It names the configured keys by id too, and no key by its value.
    expect(error.message).toContain(idOf(B));
    expect(error.message).toContain(idOf(C));
    for (const key of [A, B, C]) expect(error.message).not.toContain(key);
  });

  it("still refuses a value whose ciphertext was tampered with, under a known key id", () => {
    const ring = SecretBox.fromString(`${B},${A}`);
    const [version, keyId, iv, tag, ciphertext] = SecretBox.fromString(A).seal("whsec_x").split(".") as [
      string,
      string,
      string,
      string,
      string,
    ];
    const flipped = Buffer.from(ciphertext, "base64url");
    flipped[0] = (flipped[0] as number) ^ 1;
    const error = thrown(() => ring.open([version, keyId, iv, tag, flipped.toString("base64url")].join(".")));
    expect(error).not.toBeInstanceOf(UnknownEncryptionKeyError);
  });

  it("reseal moves a value to the first key, keeping what it holds", () => {
    const sealed = SecretBox.fromString(A).seal("whsec_move");
    const ring = SecretBox.fromString(`${B},${A}`);
    const resealed = ring.reseal(sealed);
    expect(sealedKeyId(sealed)).toBe(idOf(A));
    expect(sealedKeyId(resealed)).toBe(idOf(B));
    // Once moved, the new key alone opens it: the old key can be dropped.
    expect(SecretBox.fromString(B).open(resealed)).toBe("whsec_move");
    expect(() => SecretBox.fromString(A).open(resealed)).toThrow(UnknownEncryptionKeyError);
    // A value sealed with the first key already gets a fresh IV, and stays on that key.
    const again = ring.reseal(resealed);
    expect(again).not.toBe(resealed);
    expect(sealedKeyId(again)).toBe(idOf(B));
    expect(ring.open(again)).toBe("whsec_move");
  });

  it("reseal refuses a value sealed with a key outside the ring", () => {
    const sealed = SecretBox.fromString(C).seal("whsec_c");
    expect(() => SecretBox.fromString(`${B},${A}`).reseal(sealed)).toThrow(UnknownEncryptionKeyError);
  });

  it("sealedKeyId reads the key id of a sealed value, and null for anything else", () => {
    const box = SecretBox.fromString(A);
    expect(sealedKeyId(box.seal(""))).toBe(idOf(A));
    expect(sealedKeyId("whsec_plain")).toBeNull();
    expect(sealedKeyId("")).toBeNull();
    expect(sealedKeyId("v1.")).toBeNull();
    expect(sealedKeyId("v2.abcdefgh.x.y.z")).toBeNull();
  });

  it("refuses an empty ring", () => {
    expect(() => new SecretBox([])).toThrow();
  });
});

describe("parseKeyList", () => {
  it("reads one key, or several, in order", () => {
    expect(parseKeyList(A)).toEqual([parseKey(A)]);
    expect(parseKeyList(`${B},${A},${C}`)).toEqual([parseKey(B), parseKey(A), parseKey(C)]);
  });

  it("tolerates whitespace around entries", () => {
    const keys = parseKeyList(`  ${B} ,\t${A}\n`);
    expect(keys).toEqual([parseKey(B), parseKey(A)]);
    const ring = SecretBox.fromString(` ${B} , ${A} `);
    expect(ring.keyIds).toEqual([idOf(B), idOf(A)]);
  });

  it.each([
    ["a trailing comma", () => `${A},`, "key 2 of 2", /is empty/],
    ["a leading comma", () => `,${A}`, "key 1 of 2", /is empty/],
    ["two commas", () => `${B},,${A}`, "key 2 of 3", /is empty/],
    ["a blank entry", () => `${B},   ,${A}`, "key 2 of 3", /is empty/],
  ])("refuses %s, naming the entry by position", (_name, value, position, reason) => {
    const text = value();
    const error = thrown(() => parseKeyList(text));
    expect(error.message).toContain(position);
    expect(error.message).toMatch(reason);
    for (const key of [A, B]) expect(error.message).not.toContain(key);
  });

  it("refuses a malformed key, naming its position and echoing no key", () => {
    const short = A.slice(0, 40); // base64url, three characters short
    const wrongAlphabet = `${B.slice(0, 20)}*${B.slice(21)}`;
    const cases: [string, string][] = [
      [`${B},${short}`, "key 2 of 2"],
      [`${wrongAlphabet},${A}`, "key 1 of 2"],
      [`${A},${B},${"0".repeat(64)}`, "key 3 of 3"],
      [`${A},${B},${C},not-a-key`, "key 4 of 4"],
    ];
    for (const [text, position] of cases) {
      const error = thrown(() => parseKeyList(text));
      expect(error.message, text).toContain(position);
      for (const entry of text.split(",")) {
        expect(error.message, text).not.toContain(entry);
        // Not even a recognisable piece of one.
        expect(error.message, text).not.toContain(entry.slice(0, 12));
      }
    }
  });

  it("names no position when the single key given is malformed", () => {
    const error = thrown(() => parseKeyList(A.slice(0, 30)));
    expect(error.message).not.toMatch(/key \d+ of/);
    expect(error.message).not.toContain(A.slice(0, 30));
    expect(error.message).toMatch(/32 bytes/);
  });

  it("refuses a key listed twice, naming the repeat by position and echoing no key", () => {
    const error = thrown(() => parseKeyList(`${A},${B},${A}`));
    expect(error.message).toMatch(/listed twice/);
    expect(error.message).toContain("key 3 of 3");
    for (const key of [A, B]) expect(error.message).not.toContain(key);
    expect(() => parseKeyList(`${A},${A}`)).toThrow(/key 2 of 2 is listed twice/);
    // Whitespace does not make a repeat a different key.
    expect(() => parseKeyList(`${A}, ${A} `)).toThrow(/listed twice/);
  });

  it("refuses the same key given once in hex and once in base64", () => {
    const bytes = randomBytes(32);
    const error = thrown(() => parseKeyList(`${bytes.toString("hex")},${bytes.toString("base64")}`));
    expect(error.message).toContain("key 2 of 2 is listed twice");
    expect(error.message).not.toContain(bytes.toString("hex"));
    expect(error.message).not.toContain(bytes.toString("base64"));
  });

  it("SecretBox.fromString refuses what parseKeyList refuses", () => {
    expect(() => SecretBox.fromString(`${A},`)).toThrow(/key 2 of 2/);
    expect(() => SecretBox.fromString(`${A},${A}`)).toThrow(/listed twice/);
  });
});
