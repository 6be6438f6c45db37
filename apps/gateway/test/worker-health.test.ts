import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subscriptionEvent } from "@subgate/testing";
import type { Gateway } from "../src/gateway.ts";
import { GatewayProcess } from "./gateway-process.ts";
import { ADMIN_TOKEN, apiClient, createStripeApp, createTestEnvironment, sendStripeEvent, type TestEnvironment } from "./harness.ts";

/** Orchestrators probe worker-only processes too: with HEALTH_PORT they answer the probes, and only those. */

describe("a worker-only gateway with a health port", () => {
  let env: TestEnvironment;
  let worker: Gateway;
  let server: Gateway;

  beforeAll(async () => {
    env = await createTestEnvironment({ healthPort: 0 });
    worker = await env.start("worker");
    server = await env.start("server");
  });
  afterAll(async () => {
    await env?.close();
  });

  it("answers /healthz and /readyz with PostgreSQL and Redis checked, like the HTTP server", async () => {
    expect(worker.url).toBeNull();
    expect(worker.healthUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const live = await fetch(`${worker.healthUrl}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "ok" });

    const ready = await fetch(`${worker.healthUrl}/readyz`);
    expect(ready.status).toBe(200);
    const body = await ready.json();
    expect(body).toEqual({ status: "ready", checks: { postgres: "ok", redis: "ok" } });
    expect(body).toEqual(await (await fetch(`${server.url}/readyz`)).json());
  });

  it("serves neither the API nor store ingress (404)", async () => {
    const app = await createStripeApp(server);
    const event = subscriptionEvent({ subscriptionId: "sub_health" });
    // The same calls reach the HTTP server: the paths are real, only the worker does not serve them.
    expect((await sendStripeEvent(server, app.stripeUrl, event)).status).toBe(200);
    expect((await apiClient(server.url as string, ADMIN_TOKEN).get(`/v1/apps/${app.appId}`)).status).toBe(200);

    const probesOnly = { url: worker.healthUrl };
    const ingress = await sendStripeEvent(probesOnly, app.stripeUrl, event);
    expect(ingress.status).toBe(404);
    expect(ingress.body.error.code).toBe("not_found");
    const admin = apiClient(worker.healthUrl as string, ADMIN_TOKEN);
    for (const answer of [await admin.get(`/v1/apps/${app.appId}`), await admin.post("/v1/apps", { name: "Not here" })]) {
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe("not_found");
    }
  });

  it("leaves the HTTP server on its own port: a server's probes are on its URL", () => {
    expect(server.healthUrl).toBe(server.url);
  });

  it("is what `main.ts worker` serves with HEALTH_PORT set, until SIGTERM", async () => {
    const child = await GatewayProcess.start("worker", {
      DATABASE_URL: env.config.databaseUrl,
      REDIS_URL: env.config.redisUrl,
      HEALTH_PORT: "0", // logged back in "health server listening"
      SUBGATE_ENCRYPTION_KEY: env.config.encryptionKey,
      QUEUE_PREFIX: env.config.queuePrefix,
    });
    try {
      await child.waitForLog("health server listening");
      const ready = await fetch(`${child.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready", checks: { postgres: "ok", redis: "ok" } });
      expect(child.messages).not.toContain("http server listening");

      child.signal("SIGTERM");
      expect(await child.exited).toEqual({ code: 0, signal: null });
    } finally {
      await child.kill();
    }
  });
});

describe("a worker-only gateway without a health port (the default)", () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await createTestEnvironment();
  });
  afterAll(async () => {
    await env?.close();
  });

  it("serves no HTTP", async () => {
    const worker = await env.start("worker");
    expect(env.config.healthPort).toBeNull();
    expect(worker.url).toBeNull();
    expect(worker.healthUrl).toBeNull();
  });
});
