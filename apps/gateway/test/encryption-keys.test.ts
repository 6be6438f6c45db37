import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKey, SecretBox, sealedKeyId, silentLogger } from "@subgate/core";
import { createPrismaClient, type Db } from "@subgate/db";
import { subscriptionEvent } from "@subgate/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../src/config.ts";
import { startGateway } from "../src/gateway.ts";
import { GatewayProcess, runToExit, type Finished } from "./gateway-process.ts";
import { ADMIN_TOKEN, createStripeApp, createTestEnvironment, REDIS_URL, sendStripeEvent, type TestEnvironment } from "./harness.ts";

/**
 * A key rotation with real processes on a real database: a gateway refuses keys that do not open
 * what the database holds (naming key ids, never keys), runs with "new,old" and warns, `keys:rotate`
 * moves every stored secret to the new key, and then the new key alone is enough and the old alone is not.
 */

const MISMATCH = "subgate cannot start: none of its encryption keys opens the secrets stored in this database";
const OLDER_KEY_WARN =
  "stored secrets are sealed with an older key of SUBGATE_ENCRYPTION_KEY; run npm run keys:rotate, then drop the old key";
const SPAWN_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;

/** Runs a script of this repository from the repository root until it exits; INIT_CWD is `initCwd`, so no repository `.env` is read. */
const runScript = (script: string, args: string[], env: Record<string, string>, initCwd: string) =>
  runToExit(script, args, env, { initCwd, timeoutMs: SPAWN_TIMEOUT_MS });

describe("encryption keys: refusal, rotation with a key ring, and the rotation CLI", () => {
  const A = generateKey();
  const B = generateKey();
  const idA = SecretBox.fromString(A).keyId;
  const idB = SecretBox.fromString(B).keyId;

  let env: TestEnvironment;
  let db: Db;
  let initCwd: string;
  let stripeUrl: string;
  const processes: GatewayProcess[] = [];

  /** The environment of a spawned gateway on this test's database and queue prefix, with `keys` (unset when undefined). */
  function gatewayEnv(keys: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: "test",
      DATABASE_URL: env.database.url,
      REDIS_URL,
      HOST: "127.0.0.1",
      PORT: "0",
      PUBLIC_BASE_URL: env.config.publicBaseUrl,
      SUBGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      QUEUE_PREFIX: env.config.queuePrefix,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      STRIPE_API_BASE_URL: "http://127.0.0.1:9",
      SUBGATE_DATA_DIR: join(initCwd, "unused-data-dir"),
      ...(keys === undefined ? {} : { SUBGATE_ENCRYPTION_KEY: keys }),
      ...extra,
    };
  }

  async function startProcess(keys: string | undefined, extra: Record<string, string> = {}): Promise<GatewayProcess> {
    const gateway = await GatewayProcess.start("all", gatewayEnv(keys, extra));
    processes.push(gateway);
    return gateway;
  }

  /** Spawns main.ts with `keys` and expects it to refuse to start. */
  async function expectRefusal(keys: string | undefined, extra: Record<string, string> = {}): Promise<Finished> {
    const result = await runScript("apps/gateway/src/main.ts", ["all"], gatewayEnv(keys, extra), initCwd);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).not.toContain("http server listening");
    expect(result.stderr).not.toMatch(/^\s+at /m);
    for (const key of [A, B]) {
      expect(result.stderr).not.toContain(key);
      expect(result.stdout).not.toContain(key);
    }
    return result;
  }

  /**
   * SIGTERM once the process has finished starting: main.ts installs its signal handlers only when
   * startGateway has returned, after the workers started, so a SIGTERM right after "http server
   * listening" would end it by the signal's default action, without the graceful shutdown.
   */
  async function stopGracefully(gateway: GatewayProcess): Promise<void> {
    await gateway.waitForLog("worker started", SPAWN_TIMEOUT_MS);
    gateway.signal("SIGTERM");
    const exit = await gateway.exited;
    expect(exit, gateway.output).toEqual({ code: 0, signal: null });
    expect(gateway.messages).toContain("stopped");
  }

  /** Every stored sealed value, with the key id it names. */
  async function sealedValues(): Promise<{ where: string; keyId: string | null }[]> {
    const rows = await db.$queryRawUnsafe<{ where: string; sealed: string }[]>(`
      SELECT 'store_configs' AS "where", secrets_encrypted AS sealed FROM store_configs
      UNION ALL SELECT 'webhook_endpoints', secret_encrypted FROM webhook_endpoints
      UNION ALL SELECT 'encryption_check', sealed FROM encryption_check`);
    return rows.map((row) => ({ where: row.where, keyId: sealedKeyId(row.sealed) }));
  }

  function signedEvent(): Record<string, unknown> {
    return subscriptionEvent({ subscriptionId: `sub_keys_${Math.random().toString(36).slice(2)}` });
  }

  beforeAll(async () => {
    env = await createTestEnvironment({ encryptionKey: A });
    db = createPrismaClient({ url: env.database.url, poolSize: 2 });
    initCwd = await mkdtemp(join(tmpdir(), "subgate-keys-"));
  });

  afterAll(async () => {
    for (const gateway of processes) await gateway.kill();
    await db?.$disconnect();
    await env?.close();
    if (initCwd) await rm(initCwd, { recursive: true, force: true });
  });

  it(
    "(a) a gateway with key A stores an app's Stripe secret and a webhook endpoint's secret",
    async () => {
      const gateway = await startGateway(env.config, "all", silentLogger());
      try {
        const app = await createStripeApp(gateway);
        stripeUrl = app.stripeUrl;
        const webhook = await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: "http://127.0.0.1:9/x" });
        expect(webhook.status).toBe(201);
      } finally {
        await gateway.close();
      }
      const values = await sealedValues();
      expect(values.map((value) => value.where).sort()).toEqual(["encryption_check", "store_configs", "webhook_endpoints"]);
      expect(values.every((value) => value.keyId === idA)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "(b) refuses to start with key B alone, naming SUBGATE_ENCRYPTION_KEY and key A's id, never a key",
    async () => {
      const result = await expectRefusal(B);
      expect(result.stderr.startsWith(MISMATCH)).toBe(true);
      expect(result.stderr).toContain("SUBGATE_ENCRYPTION_KEY");
      expect(result.stderr).toContain(idA);
      expect(result.stderr).toContain(idB);
      // It wrote no check value of its own: the database is as key A left it.
      expect((await sealedValues()).every((value) => value.keyId === idA)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '(c) starts with "B,A", warns about the older key, and opens the Stripe secret sealed with A',
    async () => {
      const gateway = await startProcess(`${B},${A}`);
      await gateway.waitForLog("http server listening", SPAWN_TIMEOUT_MS);
      const warn = gateway.logs.find((log) => log.msg === OLDER_KEY_WARN);
      expect(warn, gateway.output).toBeDefined();
      expect(warn?.level).toBe(40);
      expect(warn?.sealing_key).toBe(idB);
      // The Stripe secret, the endpoint's secret and the check value.
      expect(warn?.sealed_with_other_keys).toBe(3);

      const answer = await sendStripeEvent(gateway, stripeUrl, signedEvent());
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.status).toBe("stored");
      // The signature really is checked against the opened secret.
      const forged = await sendStripeEvent(gateway, stripeUrl, signedEvent(), "whsec_not_the_apps_secret");
      expect(forged.status).toBeGreaterThanOrEqual(400);
      expect(forged.status).toBeLessThan(500);

      await stopGracefully(gateway);
      for (const key of [A, B]) expect(gateway.output).not.toContain(key);
      // Running with the ring re-sealed nothing: rotating is the CLI's job.
      expect((await sealedValues()).every((value) => value.keyId === idA)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '(d) npm run keys:rotate with "B,A" re-seals every stored secret and the check value with B',
    async () => {
      const result = await runScript(
        "apps/gateway/src/rotate-keys.ts",
        [],
        { DATABASE_URL: env.database.url, SUBGATE_ENCRYPTION_KEY: `${B},${A}` },
        initCwd,
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`re-sealed 3 stored secret(s) with key ${idB} (0 already were).`);
      for (const key of [A, B]) expect(result.stdout + result.stderr).not.toContain(key);
      const values = await sealedValues();
      expect(values).toHaveLength(3);
      for (const value of values) expect(value, value.where).toEqual({ where: value.where, keyId: idB });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "(e) starts with key B alone, without the older-key warn, and still accepts the signed event",
    async () => {
      const gateway = await startProcess(B);
      await gateway.waitForLog("http server listening", SPAWN_TIMEOUT_MS);
      expect(gateway.messages).not.toContain(OLDER_KEY_WARN);
      const answer = await sendStripeEvent(gateway, stripeUrl, signedEvent());
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.status).toBe("stored");
      await stopGracefully(gateway);
      for (const key of [A, B]) expect(gateway.output).not.toContain(key);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "(f) refuses to start with key A alone once the rotation is done, naming key B's id",
    async () => {
      const result = await expectRefusal(A);
      expect(result.stderr.startsWith(MISMATCH)).toBe(true);
      expect(result.stderr).toContain("SUBGATE_ENCRYPTION_KEY");
      expect(result.stderr).toContain(idB);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "keys:rotate exits 1 with a clear message when a value is sealed with a key it does not have",
    async () => {
      const result = await runScript(
        "apps/gateway/src/rotate-keys.ts",
        [],
        { DATABASE_URL: env.database.url, SUBGATE_ENCRYPTION_KEY: A },
        initCwd,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("SUBGATE_ENCRYPTION_KEY");
      expect(result.stderr).toContain(idB);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      for (const key of [A, B]) expect(result.stdout + result.stderr).not.toContain(key);
      expect(result.stdout).not.toContain("re-sealed");
      // Nothing changed.
      expect((await sealedValues()).every((value) => value.keyId === idB)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "in development, a newly generated key file that does not fit the database is refused, naming the key file and SUBGATE_DATA_DIR",
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "subgate-keys-data-"));
      try {
        const result = await expectRefusal(undefined, { NODE_ENV: "development", SUBGATE_DATA_DIR: dataDir });
        // The key it generated (and must not print either).
        const generated = (await readFile(join(dataDir, "encryption.key"), "utf8")).trim();
        expect(result.stderr).not.toContain(generated);
        expect(result.stdout).not.toContain(generated);
        expect(result.stderr.startsWith(MISMATCH)).toBe(true);
        expect(result.stderr).toContain("SUBGATE_DATA_DIR");
        expect(result.stderr).toMatch(/key file/);
        expect(result.stderr).toContain(idB);
        expect(result.stderr).toContain(SecretBox.fromString(generated).keyId);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe("the check value of a database that holds no secret yet", () => {
  let env: TestEnvironment;

  beforeAll(async () => {
    env = await createTestEnvironment();
  });

  afterAll(async () => {
    await env?.close();
  });

  it(
    "is written by the first start, and refuses another key even though nothing else is stored",
    async () => {
      const first = await startGateway(env.config, "server", silentLogger());
      await first.close();
      const other = generateKey();
      const error = await startGateway({ ...env.config, encryptionKey: other }, "server", silentLogger()).then(
        () => null,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message.startsWith(MISMATCH)).toBe(true);
      expect(message).toContain(`check value is sealed with key ${SecretBox.fromString(env.config.encryptionKey).keyId}`);
      expect(message).toContain(SecretBox.fromString(other).keyId);
      expect(message).not.toContain(other);
      expect(message).not.toContain(env.config.encryptionKey);
      // The ring that holds the first key opens it, and says the check value wants re-sealing.
      const ring = await startGateway({ ...env.config, encryptionKey: `${other},${env.config.encryptionKey}` }, "server", silentLogger());
      await ring.close();
    },
    TEST_TIMEOUT_MS,
  );
});
