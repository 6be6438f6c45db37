import express, { type Express, type NextFunction, type Request, type Response, type Router } from "express";
import { createApiRouter, type ApiOptions } from "@subgate/api";
import { runInRequestContext, type Logger } from "@subgate/core";
import { errorHandler, notFoundHandler, requestIdOf, requestIds } from "@subgate/http";
import { createIngressRouter, type IngressOptions } from "@subgate/ingress";

export interface HealthAppOptions {
  logger: Logger;
  /** Readiness: resolves when PostgreSQL and Redis both answer. */
  checkReady(): Promise<Record<string, "ok" | string>>;
}

export interface HttpAppOptions extends ApiOptions, IngressOptions, HealthAppOptions {
  /**
   * Express's `trust proxy`: which proxies' X-Forwarded-For is believed for `req.ip` (what the
   * ingress allow lists check). Default false: `req.ip` is the socket's address, whatever a header says.
   */
  trustProxy?: boolean | number | string[];
}

/** Ingress URLs carry their token in the path; logs show the route, never the token. */
function loggedPath(req: Request): string {
  // Case-insensitive like Express's routing: `/INGRESS/stripe/<token>` reaches the ingress too.
  return req.path.replace(/^(\/ingress\/[^/]+\/)[^/]+/i, "$1[token]");
}

function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      // "finish" is emitted outside the request's async context: name the request explicitly.
      runInRequestContext({ requestId: requestIdOf(res) ?? "" }, () =>
        logger.info(
          { method: req.method, path: loggedPath(req), status: res.statusCode, duration_ms: Math.round(durationMs * 10) / 10 },
          "request",
        ),
      );
    });
    next();
  };
}

/** The HTTP server: probes, store ingress and the API. */
export function createHttpApp(options: HttpAppOptions): Express {
  const app = buildApp(options, [createIngressRouter(options), createApiRouter(options)]);
  app.set("trust proxy", options.trustProxy ?? false);
  return app;
}

/** A worker-only process's HTTP (on HEALTH_PORT): the same probes and nothing else. */
export function createHealthApp(options: HealthAppOptions): Express {
  return buildApp(options, []);
}

function buildApp(options: HealthAppOptions, routers: Router[]): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(requestIds(), requestLog(options.logger));

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const checks = await options.checkReady();
    const ready = Object.values(checks).every((value) => value === "ok");
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", checks });
  });

  for (const router of routers) app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler(options.logger));
  return app;
}
