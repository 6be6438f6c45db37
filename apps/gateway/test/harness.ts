import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { createLogger, generateKey, silentLogger } from "@subgate/core";
import { afterAll, beforeAll } from "vitest";
import { signStripePayload, useTestDatabase, WebhookReceiver, type TestDatabase } from "@subgate/testing";
import type { GatewayConfig } from "../src/config.ts";
import { startGateway, type Gateway, type GatewayOverrides, type Role } from "../src/gateway.ts";

export const ADMIN_TOKEN = "test-admin-token";
export const REDIS_URL = process.env.SUBGATE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface TestEnvironment {
  database: TestDatabase;
  config: GatewayConfig;
  /** Starts a gateway process-equivalent on this environment's database and queue prefix. */
  start(role?: Role, overrides?: GatewayOverrides): Promise<Gateway>;
  /** Deletes every Redis key of this environment's queues: Redis losing its data, for this test only. */
  flushQueues(): Promise<number>;
  close(): Promise<void>;
}

/**
 * One database (cloned from the migrated template) and one queue prefix per call, so test files run
 * in parallel against the machine's PostgreSQL and Redis. Everything started is closed by `close`.
 */
export async function createTestEnvironment(overrides: Partial<GatewayConfig> = {}): Promise<TestEnvironment> {
  const database = await useTestDatabase();
  const config: GatewayConfig = {
    env: "test",
    databaseUrl: database.url,
    redisUrl: REDIS_URL,
    host: "127.0.0.1",
    port: 0,
    healthPort: null,
    publicBaseUrl: "http://subgate.test",
    adminToken: ADMIN_TOKEN,
    encryptionKey: generateKey(),
    allowPrivateTargets: true,
    webhookTimeoutMs: 5_000,
    retryScheduleMs: [100, 200],
    sweepIntervalMs: 300,
    sweepGraceMs: 200,
    queuePrefix: `sgt_${randomBytes(5).toString("hex")}`,
    stripeApiBaseUrl: "http://127.0.0.1:9",
    ...overrides,
  };
  const gateways: Gateway[] = [];
  async function flushQueues(): Promise<number> {
    const redis = new Redis(config.redisUrl);
    let deleted = 0;
    try {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${config.queuePrefix}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) deleted += await redis.del(...keys);
      } while (cursor !== "0");
    } finally {
      redis.disconnect();
    }
    return deleted;
  }
  return {
    database,
    config,
    async start(role = "all", gatewayOverrides = {}) {
      // SUBGATE_TEST_LOG=debug shows the gateway's logs while a test runs.
      const logger = process.env.SUBGATE_TEST_LOG ? createLogger({ level: process.env.SUBGATE_TEST_LOG }) : silentLogger();
      const gateway = await startGateway(config, role, logger, gatewayOverrides);
      gateways.push(gateway);
      return gateway;
    },
    flushQueues,
    async close() {
      for (const gateway of gateways.splice(0)) await gateway.close();
      await flushQueues();
      await database.drop();
    },
  };
}

/**
 * A logger that prints nothing and collects every line at `error` (and above) into `into`: hostile
 * input is the caller's fault, so the tests that send it assert that none was logged as an error.
 */
export function errorCollectingLogger(into: unknown[]) {
  return createLogger({
    level: "error",
    hooks: {
      logMethod(args) {
        into.push(args);
      },
    },
  });
}

/** What the helpers below need of a gateway: its URL (an in-process Gateway, or a spawned one's). */
export type GatewayUrl = Pick<Gateway, "url">;

/** An answer of the gateway: its status, its JSON body, and the request id it was given. */
export interface Answer {
  status: number;
  body: any;
  requestId: string | null;
}

/** A small JSON HTTP client for the gateway's API. */
export function apiClient(baseUrl: string, token: string) {
  async function call(method: string, path: string, body?: unknown): Promise<Answer> {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null, requestId: response.headers.get("x-request-id") };
  }
  return {
    get: (path: string) => call("GET", path),
    post: (path: string, body?: unknown) => call("POST", path, body),
    patch: (path: string, body?: unknown) => call("PATCH", path, body),
    delete: (path: string) => call("DELETE", path),
  };
}

/** Posts a raw body to an ingress URL (rewritten from the public base URL to the test server). */
export async function postToIngress(
  gateway: GatewayUrl,
  publicUrl: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const path = new URL(publicUrl).pathname;
  const response = await fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, requestId: response.headers.get("x-request-id") };
}

export const STRIPE_SECRET = "whsec_test_secret_for_subgate";

/** Creates an app with a Stripe secret through the admin API; returns its id, key and ingress URL. */
export async function createStripeApp(gateway: GatewayUrl, secrets: string[] = [STRIPE_SECRET]) {
  const admin = apiClient(gateway.url as string, ADMIN_TOKEN);
  const created = await admin.post("/v1/apps", { name: "Test App", stripe: { webhook_secrets: secrets } });
  if (created.status !== 201) throw new Error(`create app: ${created.status} ${JSON.stringify(created.body)}`);
  return {
    appId: created.body.id as string,
    apiKey: created.body.api_key as string,
    stripeUrl: created.body.ingress.stripe.url as string,
    api: apiClient(gateway.url as string, created.body.api_key as string),
  };
}

/**
 * An app whose webhooks go to `receiver`, tracking one Stripe subscription. `send` posts a signed
 * event and waits until the receiver has had `deliveredAfter` deliveries in all.
 */
export async function createTrackedStripeApp(
  gateway: GatewayUrl,
  receiver: WebhookReceiver,
  options: { subscriptionId: string; apiKey?: string },
) {
  const admin = apiClient(gateway.url as string, ADMIN_TOKEN);
  const stripe = { webhook_secrets: [STRIPE_SECRET], ...(options.apiKey ? { api_key: options.apiKey } : {}) };
  const created = await admin.post("/v1/apps", { name: "Tracked", stripe });
  if (created.status !== 201) throw new Error(`create app: ${created.status} ${JSON.stringify(created.body)}`);
  const appId = created.body.id as string;
  const stripeUrl = created.body.ingress.stripe.url as string;
  const api = apiClient(gateway.url as string, created.body.api_key as string);
  const webhook = await api.post(`/v1/apps/${appId}/webhooks`, { url: receiver.url });
  if (webhook.status !== 201) throw new Error(`register webhook: ${webhook.status} ${JSON.stringify(webhook.body)}`);
  const tracked = await api.post(`/v1/apps/${appId}/subscriptions`, { store: "stripe", store_subscription_id: options.subscriptionId });
  if (tracked.status !== 201) throw new Error(`track: ${tracked.status} ${JSON.stringify(tracked.body)}`);
  const send = async (event: Record<string, unknown>, deliveredAfter: number) => {
    const answer = await sendStripeEvent(gateway, stripeUrl, event);
    if (answer.status !== 200) throw new Error(`ingress: ${answer.status} ${JSON.stringify(answer.body)}`);
    await receiver.waitFor((r) => r.delivered.length >= deliveredAfter);
  };
  return { appId, api, stripeUrl, subscriptionId: tracked.body.id as string, send };
}

/** Signs an event as Stripe would and posts it to the app's Stripe ingress URL. */
export function sendStripeEvent(gateway: GatewayUrl, ingressUrl: string, event: Record<string, unknown>, secret = STRIPE_SECRET) {
  const body = JSON.stringify(event);
  return postToIngress(gateway, ingressUrl, body, { "stripe-signature": signStripePayload(body, secret) });
}

export interface GatewayTestContext {
  env: TestEnvironment;
  gateway: Gateway;
  receiver: WebhookReceiver;
}

/**
 * Registers vitest hooks that start a whole gateway (server and worker) plus a webhook receiver
 * for a test file, and close both after it. Read the fields inside tests, not at import time.
 */
export function useGatewayWithReceiver(overrides: Partial<GatewayConfig> = {}): GatewayTestContext {
  const context = { receiver: new WebhookReceiver() } as GatewayTestContext;
  beforeAll(async () => {
    context.env = await createTestEnvironment(overrides);
    context.gateway = await context.env.start("all");
    await context.receiver.start();
  });
  afterAll(async () => {
    await context.env?.close();
    await context.receiver.close();
  });
  return context;
}
