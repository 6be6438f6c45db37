// Entry point: `node --import tsx src/main.ts [all|server|worker]`. The only module that reads process.env.
import { createLogger } from "@subgate/core";
import { applyMigrations, ensureDatabase } from "@subgate/db";
import { ConfigError, parseEnv, type GatewayConfig } from "./config.ts";
import { resolveEncryptionKey } from "./encryption-key.ts";
import { readEnvironment } from "./environment.ts";
import { startGateway, type Gateway, type Role } from "./gateway.ts";

const ROLES: Role[] = ["all", "server", "worker"];
/** How often a process started by npm checks that npm is still there (see watchParent). */
const PARENT_CHECK_MS = 500;
/** How long a stop asked for during the start waits for the start to finish. */
const START_GRACE_MS = 20_000;

async function main(): Promise<void> {
  // Read first: npm may be gone by the time the start is over.
  const parentAtStart = process.ppid;
  const role = (process.argv[2] ?? "all") as Role;
  if (!ROLES.includes(role)) throw new ConfigError(`unknown role "${role}"; use one of ${ROLES.join(", ")}`);
  const env = parseEnv(readEnvironment());
  const logger = createLogger({ level: env.LOG_LEVEL, base: { service: "subgate", role, pid: process.pid } });

  // Handled from here on: the HTTP server takes requests before the workers are up, and a signal
  // during the start must still drain them once it has finished, not kill the process. A start that
  // cannot finish (Redis away, a migration lock held) does not hold a stop for ever.
  let gateway: Gateway | null = null;
  let stopping = false;
  const shutDown = (running: Gateway) =>
    running.close().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "error during shutdown");
        process.exit(1);
      },
    );
  const stop = (why: string) => {
    if (stopping) {
      logger.warn({ signal: why }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal: why }, "shutting down: finishing requests and jobs in flight");
    if (gateway) {
      void shutDown(gateway);
      return;
    }
    logger.info({ wait_ms: START_GRACE_MS }, "the start is not finished: shutting down once it is");
    setTimeout(() => {
      logger.error({ wait_ms: START_GRACE_MS }, "the start did not finish in time: exiting without a graceful shutdown");
      process.exit(1);
    }, START_GRACE_MS).unref();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // Only under npm: a process started in the background by a shell script that then exits must run on.
  if (process.env.npm_lifecycle_event) {
    watchParent(parentAtStart, () => {
      // Ctrl-C signals npm and the gateway together: npm leaving then is no second signal.
      if (stopping) return;
      logger.warn({ parent_pid: parentAtStart }, "the parent process exited (npm does not pass SIGTERM on to the gateway)");
      stop("parent exited");
    });
  }

  const encryption = await resolveEncryptionKey({
    configured: env.SUBGATE_ENCRYPTION_KEY,
    dataDir: env.SUBGATE_DATA_DIR,
    production: env.NODE_ENV === "production",
  });
  if (encryption.source === "generated") {
    logger.warn({ dir: env.SUBGATE_DATA_DIR }, "generated a development encryption key; set SUBGATE_ENCRYPTION_KEY in production");
  }
  // Only processes that serve the API take admin calls.
  if (!env.SUBGATE_ADMIN_TOKEN && role !== "worker") logger.warn("SUBGATE_ADMIN_TOKEN is not set: admin calls (creating apps) are refused");

  const config: GatewayConfig = {
    env: env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    host: env.HOST,
    port: env.PORT,
    healthPort: env.HEALTH_PORT ?? null,
    publicBaseUrl: env.PUBLIC_BASE_URL ?? `${env.TLS_CERT_FILE ? "https" : "http"}://localhost:${env.PORT}`,
    adminToken: env.SUBGATE_ADMIN_TOKEN ?? null,
    encryptionKey: encryption.key,
    encryptionKeySource: encryption.source,
    allowPrivateTargets: env.WEBHOOK_ALLOW_PRIVATE_TARGETS,
    webhookTimeoutMs: env.WEBHOOK_TIMEOUT_MS,
    retryScheduleMs: env.WEBHOOK_RETRY_SCHEDULE,
    sweepIntervalMs: env.SWEEP_INTERVAL_MS,
    sweepGraceMs: Math.min(10_000, env.SWEEP_INTERVAL_MS),
    queuePrefix: env.QUEUE_PREFIX,
    stripeApiBaseUrl: env.STRIPE_API_BASE_URL,
    appStoreApiBaseUrl: env.APP_STORE_API_BASE_URL,
    appStoreSandboxApiBaseUrl: env.APP_STORE_SANDBOX_API_BASE_URL,
    playApiBaseUrl: env.PLAY_API_BASE_URL,
    googleOidcCertsUrl: env.GOOGLE_OIDC_CERTS_URL,
    appleTrustedRoots: env.APPLE_ROOT_CERTS,
    appleOnlineChecks: env.APPLE_ONLINE_CHECKS,
    appleOcspUrl: env.APPLE_OCSP_URL ?? null,
    appleAllowLocalEnvironments: env.APPLE_ALLOW_LOCAL_ENVIRONMENTS,
    appleIngressAllowedIps: env.APPLE_INGRESS_ALLOWED_IPS,
    trustProxy: env.TRUST_PROXY,
    // Both or neither: parseEnv refuses one alone.
    tls: env.TLS_CERT_FILE && env.TLS_KEY_FILE ? { cert: env.TLS_CERT_FILE, key: env.TLS_KEY_FILE } : null,
  };

  const { created } = await ensureDatabase(config.databaseUrl);
  const { applied } = await applyMigrations(config.databaseUrl);
  logger.info({ created_database: created, applied_migrations: applied }, "database ready");

  gateway = await startGateway(config, role, logger);
  if (stopping) void shutDown(gateway);
}

/**
 * npm does not pass SIGTERM on to the gateway (it signals the shell it runs the script in, which
 * dies without passing it on): `kill <npm's pid>` ends npm and leaves the gateway running as an
 * orphan, still serving requests. So a process started by npm whose parent has gone (its parent pid
 * is no longer the one it started with) shuts down gracefully, as if it had been signalled. A
 * process whose parent was init already has nothing to watch.
 */
function watchParent(parent: number, onGone: () => void): void {
  if (parent <= 1) return;
  const check = () => {
    if (process.ppid === parent) return false;
    clearInterval(timer);
    onGone();
    return true;
  };
  const timer = setInterval(check, PARENT_CHECK_MS);
  timer.unref();
  check();
}

main().catch((error: unknown) => {
  // Configuration and connection problems are one clear line, not a stack trace.
  const message = error instanceof ConfigError ? error.message : `subgate could not start: ${(error as Error).message ?? error}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
