import { describeError, SecretBox, type Logger } from "@subgate/core";
import { createPrismaClient, type Db } from "@subgate/db";
import { WebhookSender } from "@subgate/delivery";
import { createAddressAllowList } from "@subgate/ingress";
import { JobProducer } from "@subgate/queue";
import { APPLE_API_BASE_URLS, AppStoreApis, createStoreRegistry, type StoreRegistry } from "@subgate/stores";
import { SubscriptionLedger } from "@subgate/subscriptions";
import { startWorkers, type RunningWorkers } from "@subgate/worker";
import { ConfigError, TRUST_PROXY_WITH_ALLOW_LIST, type GatewayConfig } from "./config.ts";
import { checkEncryptionKeys } from "./encryption-check.ts";
import { createHealthApp, createHttpApp } from "./http-app.ts";
import { listen, type HttpListener } from "./http-listener.ts";
import { publicUrlWarnings } from "./public-url-warnings.ts";

export type Role = "all" | "server" | "worker";

/**
 * How long a delivery's lease outlives its attempt's timeout. A worker that dies mid-attempt holds
 * the delivery that long past the timeout before it is retried (and the attempt recorded as
 * interrupted); a worker whose database stalls past it still records its attempt (send-delivery.ts).
 */
const DELIVERY_LEASE_MARGIN_MS = 10_000;

export interface Gateway {
  /** The HTTP server's base URL (when this process serves ingress and the API). */
  url: string | null;
  /** Where /healthz and /readyz answer: the HTTP server, or a worker's HEALTH_PORT; else null. */
  healthUrl: string | null;
  db: Db;
  producer: JobProducer;
  workers: RunningWorkers | null;
  /** Graceful: stops taking requests and jobs, finishes those in flight, then disconnects. Idempotent. */
  close(): Promise<void>;
}

export interface GatewayOverrides {
  /** Replaces the store registry (a test wraps an adapter to hold it mid-normalization). */
  stores?: StoreRegistry;
}

/**
 * Builds and starts the parts of subgate this process runs. Migrations are applied before. A start
 * that fails closes what it had started (connections, a listening server) before it throws.
 */
export async function startGateway(config: GatewayConfig, role: Role, logger: Logger, overrides: GatewayOverrides = {}): Promise<Gateway> {
  const db = createPrismaClient({ url: config.databaseUrl });
  const secretBox = SecretBox.fromString(config.encryptionKey);
  let producer: JobProducer | null = null;
  let sender: WebhookSender | null = null;
  let server: HttpListener | null = null;
  let workers: RunningWorkers | null = null;
  const close = async () => {
    if (server) {
      await server.close();
      logger.info("http server closed");
    }
    if (workers) {
      logger.info("stopping workers: waiting for jobs in flight");
      await workers.close();
    }
    await producer?.close();
    await sender?.close();
    await db.$disconnect();
  };

  try {
    // parseEnv refuses this too; a config built in code must not get past it either.
    if (config.trustProxy === true && config.appleIngressAllowedIps?.length)
      throw new ConfigError(`TRUST_PROXY: ${TRUST_PROXY_WITH_ALLOW_LIST}`);
    const keys = await checkEncryptionKeys(db, secretBox, config.encryptionKeySource ?? "environment");
    if (keys.sealedWithOtherKeys > 0) {
      logger.warn(
        { sealed_with_other_keys: keys.sealedWithOtherKeys, sealing_key: secretBox.keyId },
        "stored secrets are sealed with an older key of SUBGATE_ENCRYPTION_KEY; run npm run keys:rotate, then drop the old key",
      );
    }
    producer = new JobProducer({ redisUrl: config.redisUrl, prefix: config.queuePrefix, logger });
    sender = new WebhookSender({ timeoutMs: config.webhookTimeoutMs, allowPrivateTargets: config.allowPrivateTargets });
    const stores = overrides.stores ?? createStoreRegistryFor(config);
    const appStoreApis = new AppStoreApis({
      productionBaseUrl: config.appStoreApiBaseUrl ?? APPLE_API_BASE_URLS.production,
      sandboxBaseUrl: config.appStoreSandboxApiBaseUrl ?? APPLE_API_BASE_URLS.sandbox,
    });
    const ready = producer;
    const checkReady = () => readiness(db, ready);

    if (role !== "worker") {
      const app = createHttpApp({
        db,
        producer,
        ledger: new SubscriptionLedger(db),
        secretBox,
        stores,
        appStoreApis,
        logger,
        publicBaseUrl: config.publicBaseUrl,
        adminToken: config.adminToken,
        allowPrivateTargets: config.allowPrivateTargets,
        checkReady,
        trustProxy: config.trustProxy ?? false,
        // Only Apple publishes the addresses its notifications come from.
        allowedAddresses: config.appleIngressAllowedIps?.length
          ? { app_store: createAddressAllowList("APPLE_INGRESS_ALLOWED_IPS", config.appleIngressAllowedIps) }
          : {},
      });
      server = await listen(app, config.port, config.host, config.tls ?? null);
      logger.info({ address: server.address, local_url: server.url, public_base_url: config.publicBaseUrl }, "http server listening");
      for (const warning of publicUrlWarnings(config.publicBaseUrl)) logger.warn({ public_base_url: config.publicBaseUrl }, warning);
    }

    if (role !== "server") {
      workers = await startWorkers({
        db,
        producer,
        redisUrl: config.redisUrl,
        prefix: config.queuePrefix,
        secretBox,
        stores,
        appStoreApis,
        sender,
        logger,
        retryScheduleMs: config.retryScheduleMs,
        notificationRetryScheduleMs: config.notificationRetryScheduleMs,
        sweepIntervalMs: config.sweepIntervalMs,
        sweepGraceMs: config.sweepGraceMs,
        // The attempt's whole exchange is bounded by the timeout; the margin covers recording it.
        deliveryLeaseMs: config.webhookTimeoutMs + DELIVERY_LEASE_MARGIN_MS,
      });
    }

    // Orchestrators probe worker-only processes too: they get the probes, never ingress or the API.
    // Started after the workers, so a ready answer means jobs are being taken.
    if (role === "worker" && config.healthPort !== null) {
      server = await listen(createHealthApp({ logger, checkReady }), config.healthPort, config.host);
      logger.info({ address: server.address, local_url: server.url }, "health server listening");
    }
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }

  let closing: Promise<void> | null = null;
  return {
    url: role !== "worker" ? (server?.url ?? null) : null,
    healthUrl: server?.url ?? null,
    db,
    producer,
    workers,
    // Once: a second call waits for the first.
    close: () => (closing ??= close()),
  };
}

/** Ready: PostgreSQL takes writes (the ingress's one job is to store) and Redis answers, each within 2 s. */
async function readiness(db: Db, producer: JobProducer): Promise<Record<string, string>> {
  const check = async (fn: () => Promise<unknown>): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no answer within 2 s")), 2_000)))]);
      return "ok";
    } catch (error) {
      return `unavailable: ${describeError(error)}`.slice(0, 300);
    } finally {
      clearTimeout(timer);
    }
  };
  const [postgres, redis] = await Promise.all([check(() => takesWrites(db)), check(() => producer.ping())]);
  return { postgres, redis };
}

/** A standby, or a database set read-only, answers queries but refuses every write. */
async function takesWrites(db: Db): Promise<void> {
  const [state] = await db.$queryRaw<{ standby: boolean; read_only: string }[]>`
    SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only`;
  if (state?.standby || state?.read_only === "on") throw new Error("the database is read-only: writes cannot be taken");
}

/** The deployment's settings for each store: its API base URLs and trust roots. */
export function createStoreRegistryFor(config: GatewayConfig): StoreRegistry {
  return createStoreRegistry({
    apple: {
      ...(config.appleTrustedRoots ? { trustedRoots: config.appleTrustedRoots } : {}),
      onlineChecks: config.appleOnlineChecks ?? false,
      ocspUrl: config.appleOcspUrl ?? null,
      allowLocalEnvironments: config.appleAllowLocalEnvironments ?? false,
    },
    google: {
      ...(config.playApiBaseUrl ? { playApiBaseUrl: config.playApiBaseUrl } : {}),
      ...(config.googleOidcCertsUrl ? { oidcCertsUrl: config.googleOidcCertsUrl } : {}),
    },
    stripe: { apiBaseUrl: config.stripeApiBaseUrl },
  });
}
