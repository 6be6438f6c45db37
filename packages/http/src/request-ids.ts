import type { RequestHandler, Response } from "express";
import { acceptRequestId, runInRequestContext } from "@subgate/core";

/**
 * Gives every request an id: the caller's `X-Request-Id` when it is well formed, else a new one.
 * It is echoed in the `X-Request-Id` answer header and in error bodies, and every log line written
 * while the request is served carries it (the logger reads it from the request context).
 */
export function requestIds(): RequestHandler {
  return (req, res, next) => {
    const given = req.headers["x-request-id"];
    const requestId = acceptRequestId(Array.isArray(given) ? undefined : given);
    res.locals.requestId = requestId;
    res.setHeader("x-request-id", requestId);
    runInRequestContext({ requestId }, next);
  };
}

export function requestIdOf(res: Response): string | undefined {
  return typeof res.locals.requestId === "string" ? res.locals.requestId : undefined;
}
