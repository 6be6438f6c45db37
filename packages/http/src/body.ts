import type { IncomingMessage } from "node:http";
import type { Transform } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { RequestHandler } from "express";
import { AppError } from "@subgate/core";

/**
 * Reads a request body of at most `limit` bytes (after content decoding), and answers for an
 * oversized one at once: a declared `Content-Length` over the limit is refused before a byte of the
 * body is read, and a chunked body is cut off as soon as it passes the limit. (body-parser reads an
 * oversized body to its end before it reports it: a client could hold a request for gigabytes.)
 * The error handler closes the connection of any request answered before its body was read.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const decoder = contentDecoder(req);
  if (decoder) req.pipe(decoder);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of decoder ?? req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw tooLarge(limit);
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (decoder) {
      req.unpipe(decoder);
      decoder.destroy();
    }
    if (error instanceof AppError) throw error;
    throw new AppError("malformed_body", decoder ? "the request body could not be decoded" : "the request body could not be read");
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(limit: number): AppError {
  return new AppError("payload_too_large", `the body is over the ${limit}-byte limit`);
}

/** The stream that inflates the one Content-Encoding the request names; null for none. */
function contentDecoder(req: IncomingMessage): Transform | null {
  const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  const decoder =
    encoding === "identity"
      ? null
      : encoding === "gzip" || encoding === "x-gzip"
        ? createGunzip()
        : encoding === "deflate"
          ? createInflate()
          : encoding === "br"
            ? createBrotliDecompress()
            : undefined;
  if (decoder === undefined) throw new AppError("unsupported_media_type", `unsupported Content-Encoding "${encoding.slice(0, 40)}"`);
  return decoder;
}

/** Whether the request has a body at all (as Node's parser framed it). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || req.headers["content-length"] !== undefined;
}

/**
 * `req.body` for JSON APIs: the body of an `application/json` request in UTF-8, parsed; undefined for
 * a request without a body or of another type (its body is still read, within the limit). Only
 * objects and arrays are accepted at the top level, and an empty body is `{}`, as express.json does.
 */
export function jsonBody(limit: number): RequestHandler {
  return async (req, _res, next) => {
    try {
      req.body = undefined;
      if (!hasBody(req)) return next();
      const raw = await readBody(req, limit);
      const type = parseContentType(req.headers["content-type"]);
      if (type?.mediaType !== "application/json") return next();
      if (type.charset !== undefined && type.charset !== "utf-8") {
        throw new AppError("unsupported_media_type", `unsupported charset "${type.charset.slice(0, 40)}"; send UTF-8`);
      }
      req.body = parseJson(decodeUtf8(raw));
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** Invalid UTF-8 is refused, not stored as U+FFFD in an app's name or a URL. */
function decodeUtf8(raw: Buffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw new AppError("malformed_body", "the body is not valid UTF-8");
  }
}

function parseJson(text: string): unknown {
  if (text.length === 0) return {};
  // biome-ignore lint/suspicious/noControlCharactersInRegex: JSON's own whitespace characters
  const first = /^[\x20\x09\x0a\x0d]*(.)/s.exec(text)?.[1];
  if (first !== "{" && first !== "[") throw new AppError("malformed_body", "the body is not a JSON object or array");
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("malformed_body", "the body is not valid JSON");
  }
}

/** `type/subtype` in lower case and the charset parameter, if any; null when the header is absent. */
function parseContentType(header: string | undefined): { mediaType: string; charset: string | undefined } | null {
  if (header === undefined) return null;
  const [mediaType = "", ...parameters] = header.split(";");
  let charset: string | undefined;
  for (const parameter of parameters) {
    const match = /^\s*charset\s*=\s*"?([^"\s]*)"?\s*$/i.exec(parameter);
    if (match) charset = (match[1] ?? "").toLowerCase();
  }
  // `charset` with no value means the default, UTF-8.
  return { mediaType: mediaType.trim().toLowerCase(), charset: charset === "" ? undefined : charset };
}
