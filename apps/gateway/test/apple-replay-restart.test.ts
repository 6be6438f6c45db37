import { writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createPrismaClient, type Db } from "@subgate/db";
import { eventually } from "@subgate/testing";
import { pemOf } from "@subgate/testing/apple";
import { createAppWithAppStoreKey, renewalHistory, startReplay, useAppStoreApiFixture } from "./app-store-api-fixture.ts";
import { GatewayProcess } from "./gateway-process.ts";
import { ADMIN_TOKEN, createTestEnvironment } from "./harness.ts";

/*
 * A replay is durable: a worker killed (SIGKILL) in the middle of one leaves the replay's row at the
 * page it had committed, and the next worker resumes from there. Nothing is fetched from the start
 * again, stored twice or counted twice.
 */

const HOUR_MS = 3_600_000;
const { chain, key, sandbox, config } = await useAppStoreApiFixture();

/**
 * Forwards to the fake App Store Server API, except that it holds (never answers) history requests
 * for a later page while `holding`: the moment the killed worker is stopped in.
 */
async function startHoldingProxy(target: string) {
  let holding = true;
  const held: ServerResponse[] = [];
  let onHeld = () => {};
  const firstHeld = new Promise<void>((resolve) => (onHeld = resolve));
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (holding && req.url?.includes("paginationToken=")) {
      held.push(res);
      onHeld();
      return;
    }
    const answer = await fetch(`${target}${req.url}`, {
      method: req.method ?? "GET",
      headers: { authorization: req.headers.authorization ?? "", "content-type": req.headers["content-type"] ?? "application/json" },
      ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
    });
    res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    firstHeld,
    release() {
      holding = false;
      for (const res of held.splice(0)) res.destroy();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The replay's row once it is no longer running. */
function finished(db: Db, id: string, timeoutMs: number) {
  return eventually(
    async () => {
      const replay = await db.historyReplay.findUniqueOrThrow({ where: { id } });
      return replay.status === "running" ? undefined : replay;
    },
    timeoutMs,
    `replay ${id} finished`,
  );
}

describe("Apple history replay across a worker crash", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("resumes from the last committed page after the worker is killed mid-replay", { timeout: 90_000 }, async () => {
    const proxy = await startHoldingProxy(sandbox.url);
    cleanups.push(() => proxy.close());
    const env = await createTestEnvironment({ ...config, appStoreSandboxApiBaseUrl: proxy.url, sweepIntervalMs: 300 });
    cleanups.push(() => env.close());
    const db = createPrismaClient({ url: env.config.databaseUrl });
    cleanups.push(() => db.$disconnect());
    const rootFile = join(tmpdir(), `subgate-replay-root-${process.pid}.pem`);
    await writeFile(rootFile, pemOf(chain.rootDer));

    const child = await GatewayProcess.start("all", {
      DATABASE_URL: env.config.databaseUrl,
      REDIS_URL: env.config.redisUrl,
      PORT: "0",
      SUBGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      SUBGATE_ENCRYPTION_KEY: env.config.encryptionKey,
      QUEUE_PREFIX: env.config.queuePrefix,
      SWEEP_INTERVAL_MS: "300",
      APPLE_ROOT_CERTS: rootFile,
      APP_STORE_SANDBOX_API_BASE_URL: proxy.url,
    });
    cleanups.push(() => child.kill());
    await child.waitForLog("worker started", 30_000);

    const app = await createAppWithAppStoreKey(child, key);
    const end = Date.now() - 60_000;
    const start = end - HOUR_MS;
    const sentAt = (i: number) => start + (i + 1) * 60_000;
    sandbox.addHistory(renewalHistory(chain, 45, sentAt, "20000000003"));
    const replayId = (await startReplay(app, start, end)).id as string;

    // The first page is committed; the worker waits for the second when it is killed.
    await proxy.firstHeld;
    const midway = await db.historyReplay.findUniqueOrThrow({ where: { id: replayId } });
    expect(midway).toMatchObject({ status: "running", pages: 1, fetched: 20, stored: 20 });
    expect(midway.paginationToken).not.toBeNull();
    child.signal("SIGKILL");
    expect(await child.exited).toEqual({ code: null, signal: "SIGKILL" });
    proxy.release();

    await env.start("all");
    const done = await finished(db, replayId, 60_000);
    expect(done).toMatchObject({ status: "done", pages: 3, fetched: 45, stored: 45, duplicates: 0, rejected: 0 });
    expect(await db.notification.count({ where: { appId: app.appId, replayId } })).toBe(45);
    // Resumed, not restarted: the first page (no pagination token) was fetched once in all.
    const history = sandbox.requests.filter((request) => request.path === "/inApps/v1/notifications/history");
    expect(history.filter((request) => !request.query.paginationToken)).toHaveLength(1);
  });

  it("starts the range again when Apple no longer takes the pagination token a replay stopped at", { timeout: 60_000 }, async () => {
    const env = await createTestEnvironment(config);
    cleanups.push(() => env.close());
    const db = createPrismaClient({ url: env.config.databaseUrl });
    cleanups.push(() => db.$disconnect());
    // The API alone first: the replay waits in its row, as one stopped long ago would.
    const server = await env.start("server");
    const app = await createAppWithAppStoreKey(server, key);
    // A range of its own: the fake's history also holds the other test's notifications.
    const end = Date.now() - 3 * HOUR_MS;
    const start = end - HOUR_MS;
    sandbox.addHistory(renewalHistory(chain, 3, (i) => start + (i + 1) * 1_000, "20000000004"));
    const started = await startReplay(app, start, end);
    await db.historyReplay.update({ where: { id: started.id }, data: { paginationToken: "a-token-apple-forgot", pages: 1 } });

    await env.start("worker");
    const done = await finished(db, started.id, 30_000);
    expect(done).toMatchObject({ status: "done", fetched: 3, stored: 3, duplicates: 0, error: null });
    const asked = sandbox.requests
      .filter((request) => request.body && (request.body as any).startDate === start)
      .map((r) => r.query.paginationToken);
    expect(asked).toEqual(["a-token-apple-forgot", undefined]);
  });
});
