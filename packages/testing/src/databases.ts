import { createHash, randomBytes } from "node:crypto";
import pg from "pg";
import { applyMigrations, quoteIdentifier, readMigrations } from "@subgate/db";

/** The PostgreSQL server tests use; a database is created per test file on it. */
export const TEST_SERVER_URL = process.env.SUBGATE_TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

const RUN_PREFIX = "subgate_t_";

export function databaseUrl(name: string): string {
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_SERVER_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates (once per migration set) a database with every migration applied, to be cloned with
 * `CREATE DATABASE ... TEMPLATE`, which copies files instead of replaying SQL.
 */
export async function prepareTemplateDatabase(): Promise<string> {
  const migrations = await readMigrations();
  const digest = createHash("sha256").update(migrations.map((m) => `${m.name}:${m.checksum}`).join("\n"));
  const name = `subgate_template_${digest.digest("hex").slice(0, 12)}`;
  await withServer(async (client) => {
    // Serialise concurrent test runs preparing the same template.
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [name]);
    try {
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (exists.rowCount) return;
      const building = `${name}_building`;
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(building)} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${quoteIdentifier(building)}`);
      await applyMigrations(databaseUrl(building));
      // Renamed only when complete, so a half-migrated template can never be cloned.
      await client.query(`ALTER DATABASE ${quoteIdentifier(building)} RENAME TO ${quoteIdentifier(name)}`);
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [name]);
    }
  });
  return name;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * Names a test run: `<start epoch seconds>_<random>`. Databases carry it, so a run drops its own at
 * the end and later runs can tell abandoned ones (from a killed run) by age.
 */
export function newTestRunId(): string {
  return `${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString("hex")}`;
}

/** A fresh, migrated database cloned from the template; drop it when the file is done. */
export async function createTestDatabase(template: string, runId: string): Promise<TestDatabase> {
  const name = `${RUN_PREFIX}${runId}_${randomBytes(4).toString("hex")}`;
  await withServer(async (client) => {
    // A template may have only one cloner at a time; PostgreSQL refuses concurrent clones (55006).
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${quoteIdentifier(name)} TEMPLATE ${quoteIdentifier(template)}`);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== "55006" || attempt > 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
      }
    }
  });
  return {
    name,
    url: databaseUrl(name),
    drop: () => withServer((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`)).then(() => undefined),
  };
}

/**
 * Drops the databases of one run (`runId`), or, without it, those of runs that started more than
 * two hours ago and were killed before their teardown. Runs going on beside this one are left alone.
 */
export async function dropTestDatabases(runId?: string): Promise<void> {
  await withServer(async (client) => {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [`${RUN_PREFIX}%`]);
    const cutoff = Date.now() / 1000 - 2 * 3600;
    for (const { datname } of rows) {
      const [started, random] = datname.slice(RUN_PREFIX.length).split("_");
      const mine = runId !== undefined && `${started}_${random}` === runId;
      const abandoned = runId === undefined && Number(started) < cutoff;
      if (mine || abandoned) await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(datname)} WITH (FORCE)`);
    }
  });
}
