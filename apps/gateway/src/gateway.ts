import { SecretBox, type Logger } from "@subgate/core";
import { createPrismaClient, type Db } from "@subgate/db";
import { WebhookSender } from "@subgate/delivery";
import { JobProducer } from "@subgate/queue";
import type { StoreModules } from "@subgate/stores";
import { SubscriptionLedger } from "@subgate/subscriptions";
import { startWorkers, type RunningWorkers } from "@subgate/worker";
import type { GatewayConfig } from "./config.ts";
import { createHealthApp, createHttpApp } from "./http-app.ts";
import { listen, type HttpListener } from "./http-listener.ts";
import { createStoreModules } from "./stores.ts";

export type Role = "all" | "server" | "worker";

export interface Gateway {
  /** The HTTP server's base URL (when this process serves ingress and the API). */
  url: string | null;
  /** Where /healthz and /readyz answer: the HTTP server, or a worker's HEALTH_PORT; else null. */
  healthUrl: string | null;
  db: Db;
  producer: JobProducer;
  workers: RunningWorkers | null;
  /** Graceful: stops taking requests and jobs, finishes those in flight, then disconnects. */
  close(): Promise<void>;
}

export interface GatewayOverrides {
  /** Replaces the store modules (tests point the Stripe adapter at a local API). */
  stores?: StoreModules;
}

/** Builds and starts the parts of subgate this process runs. Migrations are applied before. */
export async function startGateway(config: GatewayConfig, role: Role, logger: Logger, overrides: GatewayOverrides = {}): Promise<Gateway> {
  const db = createPrismaClient({ url: config.databaseUrl });
  const secretBox = SecretBox.fromString(config.encryptionKey);
  const producer = new JobProducer({ redisUrl: config.redisUrl, prefix: config.queuePrefix });
  const stores = overrides.stores ?? createStoreModules({ stripeApiBaseUrl: config.stripeApiBaseUrl });
  const ledger = new SubscriptionLedger(db);
  const sender = new WebhookSender({ timeoutMs: config.webhookTimeoutMs, allowPrivateTargets: config.allowPrivateTargets });

  const checkReady = () => readiness(db, producer);
  let server: HttpListener | null = null;
  if (role !== "worker") {
    const app = createHttpApp({
      db,
      producer,
      ledger,
      secretBox,
      stores,
      logger,
      publicBaseUrl: config.publicBaseUrl,
      adminToken: config.adminToken,
      allowPrivateTargets: config.allowPrivateTargets,
      checkReady,
    });
    server = await listen(app, config.port);
    logger.info({ url: server.url, public_base_url: config.publicBaseUrl }, "http server listening");
  }

  const workers =
    role !== "server"
      ? await startWorkers({
          db,
          producer,
          redisUrl: config.redisUrl,
          prefix: config.queuePrefix,
          secretBox,
          stores,
          sender,
          logger,
          retryScheduleMs: config.retryScheduleMs,
          notificationRetryScheduleMs: config.notificationRetryScheduleMs,
          sweepIntervalMs: config.sweepIntervalMs,
          sweepGraceMs: config.sweepGraceMs,
          deliveryLeaseMs: config.webhookTimeoutMs + 30_000,
        })
      : null;

  // Orchestrators probe worker-only processes too: they get the probes, never ingress or the API.
  // Started after the workers, so a ready answer means jobs are being taken.
  if (role === "worker" && config.healthPort !== null) {
    server = await listen(createHealthApp({ logger, checkReady }), config.healthPort);
    logger.info({ url: server.url }, "health server listening");
  }

  return {
    url: role !== "worker" ? (server?.url ?? null) : null,
    healthUrl: server?.url ?? null,
    db,
    producer,
    workers,
    async close() {
      if (server) {
        await server.close();
        logger.info("http server closed");
      }
      if (workers) {
        logger.info("stopping workers: waiting for jobs in flight");
        await workers.close();
      }
      await producer.close();
      await sender.close();
      await db.$disconnect();
    },
  };
}

async function readiness(db: Db, producer: JobProducer): Promise<Record<string, string>> {
  const check = async (fn: () => Promise<unknown>): Promise<string> => {
    try {
      await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 2_000))]);
      return "ok";
    } catch (error) {
      return `unavailable: ${(error as Error).message}`.slice(0, 200);
    }
  };
  const [postgres, redis] = await Promise.all([check(() => db.$queryRaw`SELECT 1`), check(() => producer.ping())]);
  return { postgres, redis };
}
