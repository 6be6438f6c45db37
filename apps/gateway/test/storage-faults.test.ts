import { randomBytes } from "node:crypto";
import pg from "pg";
import { silentLogger } from "@subgate/core";
import { quoteIdentifier } from "@subgate/db";
import { eventually, PostgresFaultProxy, signStripePayload, subscriptionEvent, TEST_SERVER_URL } from "@subgate/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.ts";
import {
  ADMIN_TOKEN,
  STRIPE_SECRET,
  apiClient,
  createStripeApp,
  createTestEnvironment,
  postToIngress,
  type TestEnvironment,
} from "./harness.ts";

/*
 * Every state in which PostgreSQL cannot take a write: the store must get 503 with Retry-After (and
 * retry later), never 200 for something not stored and never a 500; the API answers 503 too;
 * /readyz fails naming postgres. Once PostgreSQL is back, the same request is stored.
 *
 * The gateway connects as a role of its own (not a superuser, so connection limits apply to it)
 * through a proxy in front of the real server. States the shared server can be put in are real:
 * connections disallowed, a connection limit, read-only. States it cannot be put in (shutting down,
 * starting up, a crash, a broken connection) come from the proxy, in PostgreSQL's own protocol.
 */

let env: TestEnvironment;
let gateway: Gateway;
let proxy: PostgresFaultProxy;
let admin: pg.Client;
let app: Awaited<ReturnType<typeof createStripeApp>>;
const role = `subgate_faults_${randomBytes(4).toString("hex")}`;

async function sql(text: string): Promise<void> {
  await admin.query(text);
}

/** Ends the gateway's open connections, so what it does next needs a new one. */
async function endConnections(): Promise<void> {
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [role]);
}

beforeAll(async () => {
  env = await createTestEnvironment();
  admin = new pg.Client({ connectionString: TEST_SERVER_URL });
  await admin.connect();
  await sql(`CREATE ROLE ${quoteIdentifier(role)} LOGIN`);
  const owner = new pg.Client({ connectionString: env.database.url });
  await owner.connect();
  await owner.query(
    `GRANT ALL ON SCHEMA public TO ${quoteIdentifier(role)}; GRANT ALL ON ALL TABLES IN SCHEMA public TO ${quoteIdentifier(role)}`,
  );
  await owner.end();
  proxy = await new PostgresFaultProxy().start();
  const url = new URL(proxy.url(env.database.url));
  url.username = role;
  gateway = await startGateway({ ...env.config, databaseUrl: url.toString() }, "server", silentLogger());
  app = await createStripeApp(gateway);
});

afterAll(async () => {
  await gateway?.close();
  await proxy?.close();
  await env?.close();
  await admin?.query(`DROP ROLE IF EXISTS ${quoteIdentifier(role)}`);
  await admin?.end();
});

/** How many notifications the store's event id is stored as (read as the superuser, beside the gateway). */
async function gatewayRows(storeNotificationId: string): Promise<number> {
  const client = new pg.Client({ connectionString: env.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM notifications WHERE store_notification_id = $1",
      [storeNotificationId],
    );
    return rows[0]?.count ?? 0;
  } finally {
    await client.end();
  }
}

interface Fault {
  what: string;
  break(): Promise<void>;
  mend(): Promise<void>;
}

const database = () => quoteIdentifier(env.database.name);
const refused = (sqlState: string, message: string): Fault => ({
  what: `${sqlState}: ${message}`,
  break: async () => proxy.refuse(sqlState, message),
  mend: () => proxy.heal(),
});

const FAULTS: Fault[] = [
  {
    what: "55000: the database does not allow connections",
    break: async () => {
      await sql(`ALTER DATABASE ${database()} ALLOW_CONNECTIONS false`);
      await endConnections();
    },
    mend: () => sql(`ALTER DATABASE ${database()} ALLOW_CONNECTIONS true`),
  },
  {
    what: "53300: too many connections",
    break: async () => {
      await sql(`ALTER ROLE ${quoteIdentifier(role)} CONNECTION LIMIT 0`);
      await endConnections();
    },
    mend: () => sql(`ALTER ROLE ${quoteIdentifier(role)} CONNECTION LIMIT -1`),
  },
  {
    what: "25006: read-only (a standby after a failover, or set read-only)",
    break: async () => {
      await sql(`ALTER DATABASE ${database()} SET default_transaction_read_only = on`);
      await endConnections();
    },
    mend: async () => {
      await sql(`ALTER DATABASE ${database()} RESET default_transaction_read_only`);
      await endConnections();
    },
  },
  refused("57P01", "terminating connection due to administrator command"),
  refused("57P02", "terminating connection because of crash of another server process"),
  refused("57P03", "the database system is starting up"),
  refused("08006", "connection failure"),
  refused("08004", "server rejected the connection"),
  refused("08P01", "invalid startup packet layout"),
  { what: "nothing listens (connection refused)", break: () => proxy.down(), mend: () => proxy.heal() },
];

function unavailable(answer: { status: number; body: any; requestId: string | null }, what: string): void {
  expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).toBe(503);
  expect(answer.body).toEqual({ error: { code: "service_unavailable", message: expect.any(String), request_id: answer.requestId } });
  const text = JSON.stringify(answer.body);
  expect(text).not.toContain("    at ");
  expect(text).not.toContain(String(proxy.port));
  expect(text).not.toContain(STRIPE_SECRET);
}

describe("PostgreSQL unable to take a write", () => {
  it.each(FAULTS.map((fault) => [fault.what, fault] as const))(
    "%s: ingress and API answer 503 with Retry-After, /readyz fails, and once it is back the notification is stored",
    async (what, fault) => {
      const event = subscriptionEvent({ subscriptionId: `sub_fault_${randomBytes(3).toString("hex")}` });
      const body = JSON.stringify(event);
      const post = () => postToIngress(gateway, app.stripeUrl, body, { "stripe-signature": signStripePayload(body, STRIPE_SECRET) });

      await fault.break();
      try {
        const ingress = await post();
        unavailable(ingress, what);
        const raw = await fetch(`${gateway.url}${new URL(app.stripeUrl).pathname}`, {
          method: "POST",
          body,
          headers: { "stripe-signature": signStripePayload(body, STRIPE_SECRET) },
        });
        expect(Number(raw.headers.get("retry-after"))).toBeGreaterThan(0);
        unavailable(await app.api.patch(`/v1/apps/${app.appId}`, { name: "renamed while down" }), what);
        const ready = await fetch(`${gateway.url}/readyz`);
        expect(ready.status, what).toBe(503);
        const checks = ((await ready.json()) as { checks: Record<string, string> }).checks;
        expect(checks.postgres, what).toMatch(/^unavailable: /);
        expect(checks.redis).toBe("ok");
        expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      } finally {
        await fault.mend();
      }

      // Back: the store's retries are stored, once. (A connection ended while mending may still fail
      // the first one with 503, as in production; the store retries.)
      const stored = await eventually(
        async () => {
          const answer = await post();
          if (answer.status === 503) return undefined;
          return answer;
        },
        10_000,
        `${what}: a 2xx once PostgreSQL is back`,
      );
      expect(stored.status, JSON.stringify(stored.body)).toBe(200);
      expect(stored.body.status).toBe("stored");
      expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
      expect(await gatewayRows(String(event.id))).toBe(1);
    },
  );

  it("answers 503 at every store's ingress URL, the admin's app lookup 503, and a token that cannot be one 404 (no lookup needed)", async () => {
    await proxy.down();
    try {
      for (const segment of ["apple", "google", "stripe"]) {
        unavailable(
          await postToIngress(gateway, `http://subgate.test/ingress/${segment}/${randomBytes(32).toString("base64url")}`, "{}"),
          segment,
        );
      }
      // Admin token requests need no database for authentication: the app lookup is what fails.
      const answer = await apiClient(gateway.url as string, ADMIN_TOKEN).get(`/v1/apps/${app.appId}`);
      unavailable(answer, "down");
      const short = await postToIngress(gateway, "http://subgate.test/ingress/stripe/short", "{}");
      expect(short.status).toBe(404);
    } finally {
      await proxy.heal();
    }
  });
});
