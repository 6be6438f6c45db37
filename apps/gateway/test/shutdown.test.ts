import { spawn } from "node:child_process";
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createPrismaClient, type Db } from "@subgate/db";
import { JobProducer, QUEUE_NAMES } from "@subgate/queue";
import { eventually, HoldingReceiver, signStripePayload, subscriptionEvent } from "@subgate/testing";
import { connectionRefused, GatewayProcess } from "./gateway-process.ts";
import { ADMIN_TOKEN, createStripeApp, createTestEnvironment, sendStripeEvent, STRIPE_SECRET, type TestEnvironment } from "./harness.ts";

/*
 * SIGTERM, as an orchestrator sends it, to the real entry point (`node --import tsx src/main.ts all`): the process
 * stops taking work, finishes the HTTP request and the webhook attempt in flight, then exits 0.
 */

const SHUTTING_DOWN = "shutting down: finishing requests and jobs in flight";
const STOPPING_WORKERS = "stopping workers: waiting for jobs in flight";

describe("graceful shutdown of the gateway process on SIGTERM", () => {
  let env: TestEnvironment;
  let db: Db;
  let receiver: HoldingReceiver;
  let started: GatewayProcess | null = null;

  beforeEach(async () => {
    env = await createTestEnvironment();
    db = createPrismaClient({ url: env.config.databaseUrl });
    receiver = new HoldingReceiver();
    await receiver.start();
  });

  afterEach(async () => {
    await started?.kill();
    started = null;
    await receiver.close();
    await db.$disconnect();
    await env.close();
  });

  async function startProcess(): Promise<GatewayProcess> {
    const gateway = await GatewayProcess.start("all", {
      DATABASE_URL: env.config.databaseUrl,
      REDIS_URL: env.config.redisUrl,
      PORT: "0", // logged back in "http server listening"
      SUBGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      SUBGATE_ENCRYPTION_KEY: env.config.encryptionKey,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      QUEUE_PREFIX: env.config.queuePrefix,
      SWEEP_INTERVAL_MS: "200",
    });
    started = gateway;
    await gateway.waitForLog("worker started");
    return gateway;
  }

  /** A running gateway whose one webhook POST has reached the receiver, which holds its answer. */
  async function deliveryInFlight() {
    const gateway = await startProcess();
    const app = await createStripeApp(gateway);
    expect((await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url })).status).toBe(201);
    await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_shutdown" });
    const event = subscriptionEvent({
      subscriptionId: "sub_shutdown",
      cancelAtPeriodEnd: true,
      previousAttributes: { cancel_at_period_end: false },
    });
    expect((await sendStripeEvent(gateway, app.stripeUrl, event)).status).toBe(200);
    await receiver.firstArrived;
    return { gateway, app };
  }

  async function queueCounts(): Promise<Record<string, number>> {
    const producer = new JobProducer({ redisUrl: env.config.redisUrl, prefix: env.config.queuePrefix });
    try {
      await eventually(
        () =>
          producer.ping().then(
            () => true,
            () => false,
          ),
        5_000,
        "redis connection",
      );
      const counts: Record<string, number> = {};
      for (const name of QUEUE_NAMES) {
        const byState = await producer.queue(name).getJobCounts("active", "wait", "delayed");
        for (const [state, count] of Object.entries(byState)) counts[`${name}:${state}`] = count;
      }
      return counts;
    } finally {
      await producer.close();
    }
  }

  it("waits for the webhook answer in flight, records the attempt, leaves nothing pending and exits 0", async () => {
    const { gateway, app } = await deliveryInFlight();

    gateway.signal("SIGTERM");
    // The HTTP server has closed and the workers are closing while the POST is still unanswered.
    await gateway.waitForLog(STOPPING_WORKERS);
    expect(gateway.running).toBe(true);
    receiver.answerFromNow();

    expect(await gateway.exited).toEqual({ code: 0, signal: null });
    const messages = gateway.messages;
    expect(messages.indexOf("webhook delivered")).toBeGreaterThan(messages.indexOf(STOPPING_WORKERS));
    expect(messages.at(-1)).toBe("stopped");

    const delivery = await db.delivery.findFirstOrThrow({ where: { appId: app.appId }, include: { attempts: true } });
    expect(delivery).toMatchObject({ status: "succeeded", attemptCount: 1, leaseUntil: null });
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toEqual([200]);
    expect(receiver.received.map((request) => request.webhookId)).toEqual([delivery.id]);
    expect(await db.notification.count({ where: { appId: app.appId, state: { not: "processed" } } })).toBe(0);
    expect(await db.delivery.count({ where: { appId: app.appId, status: "pending" } })).toBe(0);
    // A job cut off mid-way would stay "active" in Redis until another worker took it as stalled.
    const counts = await queueCounts();
    expect(
      Object.values(counts).every((count) => count === 0),
      JSON.stringify(counts),
    ).toBe(true);
  });

  it("answers a request in flight in full, refuses new connections meanwhile, and exits 0", async () => {
    const gateway = await startProcess();
    const app = await createStripeApp(gateway);
    const body = Buffer.from(JSON.stringify(subscriptionEvent({ subscriptionId: "sub_shutdown_request" })));
    const port = Number(new URL(gateway.url).port);
    // A client that keeps its connections alive, as load balancers and stores' senders do.
    const agent = new Agent({ keepAlive: true });
    const post = request({
      host: "127.0.0.1",
      port,
      agent,
      method: "POST",
      path: new URL(app.stripeUrl).pathname,
      headers: {
        "content-type": "application/json",
        "content-length": body.length,
        "stripe-signature": signStripePayload(body.toString(), STRIPE_SECRET),
        // The server answers "100 Continue" once it has handed the request to the app.
        expect: "100-continue",
      },
    });
    const answer = new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      post.once("error", reject);
      post.once("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
    });
    try {
      await new Promise<void>((resolve) => post.once("continue", resolve));
      const half = Math.floor(body.length / 2);
      post.write(body.subarray(0, half));

      gateway.signal("SIGTERM");
      await gateway.waitForLog(SHUTTING_DOWN);
      await eventually(() => connectionRefused(port), 5_000, "new connections refused");
      expect(gateway.running).toBe(true);
      post.end(body.subarray(half));

      const { status, headers, body: text } = await answer;
      expect(status, text).toBe(200);
      expect(JSON.parse(text).status).toBe("stored");
      // The answer ends its keep-alive connection, which would otherwise hold the shutdown.
      expect(headers.connection).toBe("close");
      expect(await gateway.exited).toEqual({ code: 0, signal: null });
      expect(await db.notification.count({ where: { appId: app.appId, store: "stripe" } })).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  // The HTTP server answers before the workers are up: a SIGTERM then killed the process outright.
  it("takes a SIGTERM that arrives during the start once the start has finished, and exits 0", async () => {
    const gateway = await GatewayProcess.start("all", {
      DATABASE_URL: env.config.databaseUrl,
      REDIS_URL: env.config.redisUrl,
      PORT: "0",
      SUBGATE_ENCRYPTION_KEY: env.config.encryptionKey,
      QUEUE_PREFIX: env.config.queuePrefix,
    });
    started = gateway;
    await gateway.waitForLog("http server listening");
    gateway.signal("SIGTERM");
    expect(await gateway.exited).toEqual({ code: 0, signal: null });
    expect(gateway.messages.at(-1)).toBe("stopped");
  });

  it("exits at once with code 1 on a second signal", async () => {
    const { gateway } = await deliveryInFlight();

    gateway.signal("SIGTERM");
    await gateway.waitForLog(STOPPING_WORKERS);
    // The receiver still holds its answer, so only the second signal can end the process now.
    gateway.signal("SIGINT");

    expect(await gateway.exited).toEqual({ code: 1, signal: null });
    expect(gateway.messages).toContain("second signal: exiting now");
    expect(gateway.messages).not.toContain("webhook delivered");
  });
});

describe("the tsx command as entry point", () => {
  // tsx runs the gateway in a child process of its own and relays the signal to it; its exit must
  // still be the gateway's clean 0, as with `node --import tsx` (above) and the Docker image.
  it("exits 0 after a graceful shutdown on SIGTERM to the tsx process", async () => {
    const env = await createTestEnvironment();
    const tsx = createRequire(import.meta.url).resolve("tsx/cli");
    const child = spawn(process.execPath, [tsx, fileURLToPath(new URL("../src/main.ts", import.meta.url)), "all"], {
      cwd: tmpdir(),
      env: {
        PATH: process.env.PATH ?? "",
        HOME: tmpdir(),
        INIT_CWD: tmpdir(),
        DATABASE_URL: env.config.databaseUrl,
        REDIS_URL: env.config.redisUrl,
        PORT: "0",
        HOST: "127.0.0.1",
        SUBGATE_ENCRYPTION_KEY: env.config.encryptionKey,
        QUEUE_PREFIX: env.config.queuePrefix,
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("close", (code, signal) => resolve({ code, signal })),
    );
    try {
      await eventually(async () => output.includes('"msg":"worker started"'), 20_000, `"worker started" in:\n${output}`);
      child.kill("SIGTERM");
      expect(await exited).toEqual({ code: 0, signal: null });
      const messages = output.split("\n").flatMap((line) => (line.startsWith("{") ? [JSON.parse(line).msg as string] : []));
      expect(messages.at(-1)).toBe("stopped");
    } finally {
      child.kill("SIGKILL");
      await env.close();
    }
  }, 40_000);
});
