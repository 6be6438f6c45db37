// The data migration 20261201100300_clear_out_of_range_times on rows an earlier subgate wrote:
// times outside the windows subgate now enforces are cleared, every other value is kept.
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, MIGRATIONS_DIR } from "../src/migrate.ts";
import { createDatabase, dropDatabase, newDatabaseName, urlFor } from "./server.ts";

const REPAIR = "20261201100300_clear_out_of_range_times";
const name = newDatabaseName();
let dir: string;
let client: pg.Client;

beforeAll(async () => {
  await createDatabase(name);
  // Every migration before the repair, as a database of the earlier subgate had them.
  dir = await mkdtemp(join(tmpdir(), "subgate-repair-"));
  for (const migration of await readdir(MIGRATIONS_DIR)) {
    if (migration < REPAIR && !migration.endsWith(".toml"))
      await cp(join(MIGRATIONS_DIR, migration), join(dir, migration), { recursive: true });
  }
  await applyMigrations(urlFor(name), dir);
  client = new pg.Client({ connectionString: urlFor(name) });
  await client.connect();
  await client.query("SET TIME ZONE 'UTC'"); // times are compared as text below
});

afterAll(async () => {
  await client?.end();
  await dropDatabase(name);
  await rm(dir, { recursive: true, force: true });
});

describe(REPAIR, () => {
  it("clears the times outside subgate's windows and keeps the rest", async () => {
    await client.query(`INSERT INTO apps (id, name, updated_at) VALUES ('app_1', 'A', now())`);
    await client.query(`
      INSERT INTO subscriptions (id, app_id, store, store_subscription_id, status, state_at, state_rank, last_event_at, last_event_type, expires_at, purchased_at, updated_at) VALUES
        ('sub_far', 'app_1', 'stripe', 'sub_far', 'active', '10000-01-01Z', 2, '10000-01-01Z', 'RENEWAL', '10000-02-01Z', '1969-12-31Z', now()),
        ('sub_ok', 'app_1', 'stripe', 'sub_ok', 'active', '2026-11-01Z', 1, '2026-11-01Z', 'RENEWAL', '2026-12-01Z', '2026-10-01Z', now())`);
    await client.query(`
      INSERT INTO notifications (id, app_id, store, store_notification_id, store_event_at, received_at, raw_body, headers, verification) VALUES
        ('ntf_far', 'app_1', 'stripe', 'evt_far', '10000-01-01Z', '2026-11-01Z', '\\x7b7d', '{}', '{}'),
        ('ntf_early', 'app_1', 'stripe', 'evt_early', '1999-12-31Z', '2026-11-01Z', '\\x7b7d', '{}', '{}'),
        ('ntf_ok', 'app_1', 'stripe', 'evt_ok', '2026-11-01T00:30:00Z', '2026-11-01Z', '\\x7b7d', '{}', '{}')`);

    expect(await applyMigrations(urlFor(name))).toMatchObject({ applied: expect.arrayContaining([REPAIR]) });

    const subscriptions = await client.query(
      `SELECT id, state_at::text, state_rank, last_event_at::text, last_event_type, expires_at::text, purchased_at::text FROM subscriptions ORDER BY id`,
    );
    expect(subscriptions.rows).toEqual([
      { id: "sub_far", state_at: null, state_rank: 0, last_event_at: null, last_event_type: null, expires_at: null, purchased_at: null },
      {
        id: "sub_ok",
        state_at: "2026-11-01 00:00:00+00",
        state_rank: 1,
        last_event_at: "2026-11-01 00:00:00+00",
        last_event_type: "RENEWAL",
        expires_at: "2026-12-01 00:00:00+00",
        purchased_at: "2026-10-01 00:00:00+00",
      },
    ]);
    const notifications = await client.query(`SELECT id, store_event_at::text FROM notifications ORDER BY id`);
    expect(notifications.rows).toEqual([
      { id: "ntf_early", store_event_at: null },
      { id: "ntf_far", store_event_at: null },
      { id: "ntf_ok", store_event_at: "2026-11-01 00:30:00+00" },
    ]);
  });
});
