import { connect } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { subscriptionEvent } from "@subgate/testing";
import { GatewayProcess, type LogLine } from "./gateway-process.ts";
import { ADMIN_TOKEN, createStripeApp, createTestEnvironment, sendStripeEvent, type TestEnvironment } from "./harness.ts";

/*
 * What the real process says and where it listens: the address it actually bound (HOST), warnings
 * only where the role needs them, and an operator told at `warn` what needs acting on (Redis away at
 * start, a delivery the private-address guard blocked).
 */

const WARN = 40;
let env: TestEnvironment;
const started: GatewayProcess[] = [];

beforeAll(async () => {
  env = await createTestEnvironment();
});

afterEach(async () => {
  for (const gateway of started.splice(0)) await gateway.kill();
});

afterAll(async () => {
  await env?.close();
});

async function start(role: "all" | "server" | "worker", extra: Record<string, string> = {}): Promise<GatewayProcess> {
  const gateway = await GatewayProcess.start(role, {
    DATABASE_URL: env.config.databaseUrl,
    REDIS_URL: env.config.redisUrl,
    PORT: "0",
    SUBGATE_ENCRYPTION_KEY: env.config.encryptionKey,
    QUEUE_PREFIX: env.config.queuePrefix,
    ...extra,
  });
  started.push(gateway);
  return gateway;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const line = (gateway: GatewayProcess, msg: string): LogLine | undefined => gateway.logs.find((log) => log.msg === msg);

describe("the HTTP server's address", () => {
  it("binds every IPv4 interface by default and logs that address", async () => {
    const gateway = await start("server", { SUBGATE_ADMIN_TOKEN: ADMIN_TOKEN });
    const listening = await gateway.waitForLog("http server listening");
    const port = Number(new URL(gateway.url).port);
    expect(listening.address).toBe(`0.0.0.0:${port}`);
    expect(listening.local_url).toBe(`http://127.0.0.1:${port}`);
    expect(await reachable("127.0.0.2", port)).toBe(true);
  });

  it("binds HOST alone when it is set, and logs it", async () => {
    const gateway = await start("server", { SUBGATE_ADMIN_TOKEN: ADMIN_TOKEN, HOST: "127.0.0.1" });
    const listening = await gateway.waitForLog("http server listening");
    const port = Number(new URL(gateway.url).port);
    expect(listening.address).toBe(`127.0.0.1:${port}`);
    expect(await reachable("127.0.0.1", port)).toBe(true);
    // Another loopback address of this machine: not bound.
    expect(await reachable("127.0.0.2", port)).toBe(false);
  });
});

describe("warnings", () => {
  it("a worker-only process does not warn about the admin token; one that serves the API does", async () => {
    const worker = await start("worker");
    await worker.waitForLog("worker started");
    const server = await start("server");
    await server.waitForLog("http server listening");
    const unset = "SUBGATE_ADMIN_TOKEN is not set: admin calls (creating apps) are refused";
    expect(worker.messages).not.toContain(unset);
    expect(line(server, unset)?.level).toBe(WARN);
  });

  it("says at start, at warn, that Redis is unreachable, and /readyz names the cause", async () => {
    const gateway = await start("server", { REDIS_URL: "redis://127.0.0.1:1", SUBGATE_ADMIN_TOKEN: ADMIN_TOKEN });
    const unreachable = await gateway.waitForLog("redis is unreachable; retrying until it answers (stored notifications wait)");
    expect(unreachable.level).toBe(WARN);
    expect(unreachable.err).toMatch(/ECONNREFUSED/);
    await gateway.waitForLog("http server listening");
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(503);
    const { checks } = (await ready.json()) as { checks: Record<string, string> };
    expect(checks.redis).toMatch(/^unavailable: redis is not connected \(.*ECONNREFUSED/);
    expect(checks.postgres).toBe("ok");
    // Once per outage, not at every reconnect attempt.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(gateway.messages.filter((msg) => msg === unreachable.msg)).toHaveLength(1);
  });

  it("logs a delivery the private-address guard blocked at warn", async () => {
    // The API may register a loopback endpoint (as in development); the worker may not call it.
    const server = await start("server", { SUBGATE_ADMIN_TOKEN: ADMIN_TOKEN, WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" });
    await server.waitForLog("http server listening");
    const worker = await start("worker", { WEBHOOK_ALLOW_PRIVATE_TARGETS: "false", WEBHOOK_RETRY_SCHEDULE: "1h" });
    await worker.waitForLog("worker started");
    const app = await createStripeApp(server);
    expect((await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: "http://127.0.0.1:9/hooks" })).status).toBe(201);
    expect(
      (await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_blocked" })).status,
    ).toBe(201);
    const event = subscriptionEvent({
      subscriptionId: "sub_blocked",
      cancelAtPeriodEnd: true,
      previousAttributes: { cancel_at_period_end: false },
    });
    expect((await sendStripeEvent(server, app.stripeUrl, event)).status).toBe(200);
    const blocked = await worker.waitForLog("webhook blocked: the endpoint's address is private; will retry");
    expect(blocked.level).toBe(WARN);
    expect(blocked.error).toMatch(/^blocked/);
  });
});
