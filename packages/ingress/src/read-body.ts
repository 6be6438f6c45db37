import express, { type Request, type Response } from "express";
import { AppError } from "@subgate/core";

/**
 * Reads the raw body (any content type: signatures are over the exact bytes) up to `limit` bytes.
 * Run inside the handler, after the token lookup, so an oversized body can be charged to its app.
 */
export function readRawBody(req: Request, res: Response, limit: number): Promise<Buffer> {
  const parse = express.raw({ type: () => true, limit });
  return new Promise((resolve, reject) => {
    parse(req, res, (error?: unknown) => {
      if (error) {
        const { type, status } = error as { type?: string; status?: number };
        if (type === "entity.too.large" || status === 413) {
          reject(new AppError("payload_too_large", `body is over the ${limit}-byte limit`));
        } else {
          reject(new AppError("malformed_body", "the request body could not be read"));
        }
        return;
      }
      resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    });
  });
}
