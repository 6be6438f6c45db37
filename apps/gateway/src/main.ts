// Entry point: `tsx src/main.ts [all|server|worker]`. The only module that reads process.env.
import { existsSync } from "node:fs";
import { createLogger } from "@subgate/core";
import { applyMigrations, ensureDatabase } from "@subgate/db";
import { ConfigError, parseEnv, type GatewayConfig } from "./config.ts";
import { resolveEncryptionKey } from "./encryption-key.ts";
import { startGateway, type Role } from "./gateway.ts";

const ROLES: Role[] = ["all", "server", "worker"];

async function main(): Promise<void> {
  // `npm start` runs this workspace in apps/gateway; `.env` and `.subgate/` belong to the folder
  // npm was started from (INIT_CWD), the repository root in the README.
  process.chdir(process.env.INIT_CWD || process.cwd());
  if (existsSync(".env")) process.loadEnvFile(".env"); // the environment wins over the file
  const role = (process.argv[2] ?? "all") as Role;
  if (!ROLES.includes(role)) throw new ConfigError(`unknown role "${role}"; use one of ${ROLES.join(", ")}`);
  const env = parseEnv(process.env);
  const logger = createLogger({ level: env.LOG_LEVEL, base: { service: "subgate", role } });

  const encryption = await resolveEncryptionKey({
    configured: env.SUBGATE_ENCRYPTION_KEY,
    dataDir: env.SUBGATE_DATA_DIR,
    production: env.NODE_ENV === "production",
  });
  if (encryption.source === "generated") {
    logger.warn({ dir: env.SUBGATE_DATA_DIR }, "generated a development encryption key; set SUBGATE_ENCRYPTION_KEY in production");
  }
  if (!env.SUBGATE_ADMIN_TOKEN) logger.warn("SUBGATE_ADMIN_TOKEN is not set: admin calls (creating apps) are refused");

  const config: GatewayConfig = {
    env: env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    port: env.PORT,
    healthPort: env.HEALTH_PORT ?? null,
    publicBaseUrl: env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`,
    adminToken: env.SUBGATE_ADMIN_TOKEN ?? null,
    encryptionKey: encryption.key,
    allowPrivateTargets: env.WEBHOOK_ALLOW_PRIVATE_TARGETS,
    webhookTimeoutMs: env.WEBHOOK_TIMEOUT_MS,
    retryScheduleMs: env.WEBHOOK_RETRY_SCHEDULE,
    sweepIntervalMs: env.SWEEP_INTERVAL_MS,
    sweepGraceMs: Math.min(10_000, env.SWEEP_INTERVAL_MS),
    queuePrefix: env.QUEUE_PREFIX,
    stripeApiBaseUrl: env.STRIPE_API_BASE_URL,
  };

  const { created } = await ensureDatabase(config.databaseUrl);
  const { applied } = await applyMigrations(config.databaseUrl);
  logger.info({ created_database: created, applied_migrations: applied }, "database ready");

  const gateway = await startGateway(config, role, logger);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down: finishing requests and jobs in flight");
    gateway.close().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  // Configuration and connection problems are one clear line, not a stack trace.
  const message = error instanceof ConfigError ? error.message : `subgate could not start: ${(error as Error).message ?? error}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
