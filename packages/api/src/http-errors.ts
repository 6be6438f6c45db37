import type { ErrorRequestHandler, RequestHandler } from "express";
import { AppError, isUnavailableError, type Logger } from "@subgate/core";

/** 404 for every route nobody claimed, in the same JSON shape as every other error. */
export const notFoundHandler: RequestHandler = (_req, res) => {
  res.status(404).json({ error: { code: "not_found", message: "no such route" } });
};

/**
 * The one place errors become HTTP answers: `{"error": {"code", "message"}}`. Known errors keep
 * their code and message; anything else is logged and answered without internals or a stack.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const appError = toAppError(error);
    if (appError.code === "internal") logger.error({ err: error }, "unhandled error");
    if (res.headersSent) return;
    const body: { code: string; message: string; details?: unknown } = { code: appError.code, message: appError.message };
    if (appError.details !== undefined) body.details = appError.details;
    if (appError.code === "service_unavailable") res.setHeader("retry-after", "5");
    res.status(appError.status).json({ error: body });
  };
}

function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  // The router could not percent-decode a path parameter (`/v1/apps/%ff`): the caller's URL, not a bug.
  if (error instanceof URIError) return new AppError("bad_request", "the URL path is not valid percent-encoding");
  const { type, status, expose } = (error ?? {}) as { type?: string; status?: number; expose?: boolean };
  // body-parser's errors carry a `type`.
  if (type === "entity.parse.failed") return new AppError("malformed_body", "the body is not valid JSON");
  if (type === "entity.too.large" || status === 413) return new AppError("payload_too_large", "the body is too large");
  if (type === "charset.unsupported" || type === "encoding.unsupported") {
    return new AppError("unsupported_media_type", "unsupported body encoding");
  }
  // Any other client error body-parser reports (data that does not inflate for its Content-Encoding,
  // a body shorter than its Content-Length, an aborted upload) has no `type`: the body is unreadable.
  if (expose === true && typeof status === "number" && status >= 400 && status < 500) {
    return new AppError("malformed_body", "the request body could not be read");
  }
  if (isUnavailableError(error)) return new AppError("service_unavailable", "storage is unavailable; retry later");
  return new AppError("internal", "internal error");
}
