import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
import { AppError, isUnavailableError, UnknownEncryptionKeyError, type Logger } from "@subgate/core";
import { requestIdOf } from "./request-ids.ts";

/** 404 for every route nobody claimed, in the same JSON shape as every other error. */
export const notFoundHandler: RequestHandler = (req, res) => {
  sendError(req, res, new AppError("not_found", "no such route"));
};

/**
 * The one place errors become HTTP answers: `{"error": {"code", "message", "request_id"}}`. Known
 * errors keep their code and message; anything else is logged and answered without internals or a
 * stack. Storage that cannot take the request now is a 503 with Retry-After, so stores retry.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const appError = toAppError(error);
    if (error instanceof UnknownEncryptionKeyError) {
      logger.error({ err: error.message }, "a stored secret is sealed with an encryption key SUBGATE_ENCRYPTION_KEY does not list");
    } else if (appError.code === "internal") {
      logger.error({ err: error }, "unhandled error");
    }
    // An answer already under way cannot become an error answer: end it, or the client waits for ever.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const retryAfter = appError.retryAfterSeconds ?? (appError.code === "service_unavailable" ? 5 : undefined);
    if (retryAfter !== undefined) res.setHeader("retry-after", String(Math.max(1, Math.ceil(retryAfter))));
    sendError(req, res, appError);
  };
}

function sendError(req: Request, res: Response, error: AppError): void {
  // Answered before its body arrived (too large, say): the rest of the body is not read, so the
  // connection cannot carry another request.
  if (!req.complete) res.setHeader("connection", "close");
  const body: { code: string; message: string; request_id?: string; details?: unknown } = { code: error.code, message: error.message };
  const requestId = requestIdOf(res);
  if (requestId !== undefined) body.request_id = requestId;
  if (error.details !== undefined) body.details = error.details;
  res.status(error.status).json({ error: body });
}

function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  // The router could not percent-decode a path parameter (`/v1/apps/%ff`): the caller's URL, not a bug.
  if (error instanceof URIError) return new AppError("bad_request", "the URL path is not valid percent-encoding");
  if (isUnavailableError(error)) return new AppError("service_unavailable", "storage is unavailable; retry later");
  // The operator must give this process the key (logged above); the store's retry then succeeds.
  if (error instanceof UnknownEncryptionKeyError) {
    return new AppError("service_unavailable", "this subgate cannot read the app's stored credentials right now; retry later");
  }
  return new AppError("internal", "internal error");
}
