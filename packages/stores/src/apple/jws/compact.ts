import { malformed } from "./errors.ts";

/** One compact JWS cut at its dots; nothing decoded yet. */
export interface CompactJws {
  header: string;
  payload: string;
  signature: string;
  /** Index of the second dot: `jws.slice(0, signingInputEnd)` is the signing input. */
  signingInputEnd: number;
}

// fatal: invalid UTF-8 is refused rather than replaced; ignoreBOM: a leading BOM is kept, so JSON.parse refuses it.
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const BASE64URL_INDEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) BASE64URL_INDEX["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charCodeAt(i)] = i;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Reusable buffers for the hot path, which would otherwise allocate (and collect) a buffer per JWS
 * for the signing input and for each decoded segment. Safe because every use is synchronous: a
 * view is read before anything else can write the buffer. Inputs above the cap get their own.
 */
class Scratch {
  private buffer = Buffer.allocUnsafeSlow(16 * 1024);
  constructor(private readonly cap: number) {}
  take(size: number): Buffer {
    if (size <= this.buffer.length) return this.buffer;
    if (size > this.cap) return Buffer.allocUnsafeSlow(size);
    this.buffer = Buffer.allocUnsafeSlow(Math.min(this.cap, Math.max(size, 2 * this.buffer.length)));
    return this.buffer;
  }
}
const SIGNING_INPUT = new Scratch(512 * 1024);
const DECODED = new Scratch(256 * 1024);

export function splitCompactJws(jws: unknown): CompactJws {
  if (typeof jws !== "string") throw malformed("the JWS is not a string");
  // The first and the last dot, without scanning the payload a third time: a dot inside the
  // payload is not base64url, and its decoding refuses it.
  const first = jws.indexOf(".");
  const second = jws.lastIndexOf(".");
  if (first < 0 || second === first) throw malformed("the JWS is not of the form header.payload.signature");
  return { header: jws.slice(0, first), payload: jws.slice(first + 1, second), signature: jws.slice(second + 1), signingInputEnd: second };
}

/**
 * The signing input (header.payload) as bytes, and the proof that it is ASCII: UTF-8 writes one byte
 * per character only for ASCII. The view is valid until the next call.
 */
export function encodeSigningInput(jws: string, end: number): Buffer {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8, so nothing is cut off.
  const buffer = SIGNING_INPUT.take(3 * end);
  if (buffer.write(jws.slice(0, end), 0, "utf8") !== end) throw malformed("the JWS is not ASCII");
  return buffer.subarray(0, end);
}

/**
 * base64url as RFC 7515 uses it, strictly: only the URL alphabet, no padding, no impossible length,
 * and zero unused bits in the last character, so one value has one spelling. Node's decoder skips
 * characters it does not know (the byte count then falls short) and also takes `+` and `/` (looked
 * for apart); it reads only the low byte of a non-ASCII character, so unless `asciiChecked` (the
 * caller proved the text ASCII, see encodeSigningInput) that is checked here too. The result is a
 * view valid until the next call.
 */
export function decodeBase64Url(segment: string, what: string, asciiChecked = false): Buffer {
  const length = segment.length;
  const rest = length & 3;
  const size = (length >> 2) * 3 + (rest === 0 ? 0 : rest - 1);
  const buffer = DECODED.take(size);
  if (
    rest === 1 ||
    buffer.write(segment, 0, size, "base64url") !== size ||
    segment.indexOf("+") >= 0 ||
    segment.indexOf("/") >= 0 ||
    (!asciiChecked && Buffer.byteLength(segment, "utf8") !== length)
  ) {
    throw malformed(`the JWS ${what} is not base64url`);
  }
  if (rest !== 0) {
    const last = BASE64URL_INDEX[segment.charCodeAt(length - 1)] ?? -1;
    if ((last & (rest === 2 ? 0x0f : 0x03)) !== 0) throw malformed(`the JWS ${what} is not canonical base64url`);
  }
  return buffer.subarray(0, size);
}

/** A base64url segment holding a JSON object (the header or the payload). */
export function decodeJsonObject(segment: string, what: string, asciiChecked = false): Record<string, unknown> {
  if (segment.length === 0) throw malformed(`the JWS ${what} is empty`);
  const bytes = decodeBase64Url(segment, what, asciiChecked);
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(bytes));
  } catch {
    throw malformed(`the JWS ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw malformed(`the JWS ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * The signature segment: short, so the plain pattern is checked. A view valid until the next decode;
 * the signing input lives in another buffer, so both can be handed to one verify call.
 */
export function decodeSignature(segment: string): Buffer {
  if (!BASE64URL.test(segment)) throw malformed("the JWS signature is not base64url");
  return decodeBase64Url(segment, "signature", true);
}

/**
 * The payload of a JWS that was verified before (read back from storage), without verifying it
 * again. Still strict about the shape, so a damaged row fails loudly instead of decoding to junk.
 * `unsigned`: an empty signature is allowed too, as Apple's Xcode and StoreKit Testing payloads
 * have (only ever accepted where a deployment allows them, and never as proof of anything).
 */
export function decodeJwsPayloadUnverified(jws: string, options: { unsigned?: boolean } = {}): Record<string, unknown> {
  const parts = splitCompactJws(jws);
  decodeJsonObject(parts.header, "header");
  if (parts.signature.length === 0) {
    if (!options.unsigned) throw malformed("the JWS signature is empty");
  } else {
    decodeSignature(parts.signature);
  }
  return decodeJsonObject(parts.payload, "payload");
}
