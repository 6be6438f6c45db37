// Proves prisma/migrations and prisma/schema.prisma agree: the migrations are applied to a fresh
// database and the resulting catalog is compared with what Prisma Migrate would create for the
// schema (see schema-shape.ts). Adding a field to schema.prisma without a migration, or a migration
// without the schema change, fails here with the difference spelt out.
//
// Needs the local PostgreSQL (SUBGATE_TEST_DATABASE_URL, else postgres@127.0.0.1:5432, whose
// `postgres` database is used to create and drop a database of this file's own).
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quoteIdentifier } from "../src/ensure-database.ts";
import { applyMigrations, MIGRATIONS_DIR } from "../src/migrate.ts";
import {
  diffShapes,
  getDatamodel,
  readCatalogShape,
  readSchemaText,
  shapeFromDatamodel,
  shapeFromSchema,
  type DbShape,
} from "./schema-shape.ts";

const SERVER_URL = process.env.SUBGATE_TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const PREFIX = "subgate_migtest_";
// `<prefix><start epoch seconds>_<random>`: a run killed before its afterAll leaves its database
// behind, and a later run drops those older than this.
const ABANDONED_AFTER_SECONDS = 2 * 3600;
const DATABASE = `${PREFIX}${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString("hex")}`;
const LABELS: [string, string] = ["migrations", "schema.prisma"];

function urlFor(database: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The migration folders and their checksums, read here rather than through the runner under test. */
async function migrationFolders(): Promise<{ name: string; checksum: string }[]> {
  const entries = await readdir(MIGRATIONS_DIR, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      checksum: createHash("sha256")
        .update(await readFile(join(MIGRATIONS_DIR, name, "migration.sql")))
        .digest("hex"),
    })),
  );
}

const url = urlFor(DATABASE);
let db: pg.Client | undefined;
let firstApply: { applied: string[] } = { applied: [] };
let catalog: DbShape;
let schema: DbShape;

beforeAll(async () => {
  await withServer(async (client) => {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [`${PREFIX}%`]);
    const cutoff = Date.now() / 1000 - ABANDONED_AFTER_SECONDS;
    for (const { datname } of rows) {
      const started = Number(datname.slice(PREFIX.length).split("_")[0]);
      if (started < cutoff) await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(datname)} WITH (FORCE)`);
    }
    await client.query(`CREATE DATABASE ${quoteIdentifier(DATABASE)}`);
  });
  firstApply = await applyMigrations(url);
  db = new pg.Client({ connectionString: url });
  await db.connect();
  catalog = await readCatalogShape(db);
  schema = await shapeFromSchema();
});

afterAll(async () => {
  await db?.end();
  await withServer((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(DATABASE)} WITH (FORCE)`));
});

describe("prisma/migrations", () => {
  it("applies every migration folder, in order, to an empty database", async () => {
    const folders = await migrationFolders();
    expect(folders.length).toBeGreaterThan(0);
    expect(firstApply.applied).toEqual(folders.map((folder) => folder.name));
  });

  it("creates exactly the database schema.prisma describes", () => {
    // One line per difference, naming the table, column, index or key and both sides' values.
    expect(diffShapes(catalog, schema, LABELS)).toEqual([]);
    // And the whole shapes, for the complete picture when the line above fails.
    expect(catalog).toEqual(schema);
  });

  it("records each migration in _prisma_migrations as Prisma Migrate does", async () => {
    const { rows } = await db!.query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
      logs: string | null;
      applied_steps_count: number;
    }>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at, logs, applied_steps_count
         FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    const folders = await migrationFolders();
    expect(rows.map(({ migration_name, checksum }) => ({ name: migration_name, checksum }))).toEqual(folders);
    for (const row of rows) {
      expect(row.finished_at, row.migration_name).toBeInstanceOf(Date);
      expect(row.rolled_back_at, row.migration_name).toBeNull();
      expect(row.logs, row.migration_name).toBeNull();
      expect(row.applied_steps_count, row.migration_name).toBe(1);
    }
  });

  it("applies nothing the second time", async () => {
    const before = await db!.query(`SELECT id FROM "_prisma_migrations" ORDER BY id`);
    expect(await applyMigrations(url)).toEqual({ applied: [] });
    const after = await db!.query(`SELECT id FROM "_prisma_migrations" ORDER BY id`);
    expect(after.rows).toEqual(before.rows);
  });

  it("is locked to the postgresql provider", async () => {
    const lock = await readFile(join(MIGRATIONS_DIR, "migration_lock.toml"), "utf8");
    expect(lock).toMatch(/^provider = "postgresql"$/m);
  });
});

// The comparison must be able to fail: each mutation below is a drift the test above has to catch.
describe("the comparison itself", () => {
  const firstTable = (shape: DbShape): [string, DbShape["tables"][string]] => {
    const entry = Object.entries(shape.tables)[0];
    if (!entry) throw new Error("no tables");
    return entry;
  };

  it("reports a column the migrations lack", () => {
    const mutated = structuredClone(catalog);
    const [tableName, table] = firstTable(mutated);
    const column = Object.keys(table.columns).find((name) => !table.primaryKey?.columns.includes(name));
    if (!column) throw new Error(`${tableName} has no non-key column`);
    delete table.columns[column];
    const diff = diffShapes(mutated, schema, LABELS);
    expect(diff).toEqual([expect.stringContaining(`column ${JSON.stringify(column)} is only in schema.prisma`)]);
    expect(diff[0]).toContain(`table ${JSON.stringify(tableName)}`);
    expect(mutated).not.toEqual(schema);
  });

  it("reports type, nullability, default, index, foreign key and enum drift", () => {
    const mutated = structuredClone(catalog);
    const [, table] = firstTable(mutated);
    const [columnName, column] = Object.entries(table.columns)[0]!;
    column.type = "character varying(10)";
    column.notNull = !column.notNull;
    column.default = "'x'::character varying";
    const indexes = Object.values(mutated.tables).flatMap((t) => Object.values(t.indexes));
    const foreignKeys = Object.values(mutated.tables).flatMap((t) => Object.values(t.foreignKeys));
    const [enumName, values] = Object.entries(mutated.enums)[0]!;
    indexes[0]!.columns.reverse();
    indexes[0]!.columns.push("extra");
    foreignKeys[0]!.onDelete = foreignKeys[0]!.onDelete === "NO ACTION" ? "RESTRICT" : "NO ACTION";
    mutated.enums[enumName] = [...values, "added_value"];

    const diff = diffShapes(mutated, schema, LABELS).join("\n");
    expect(diff).toContain(`column ${JSON.stringify(columnName)} type`);
    expect(diff).toContain(`column ${JSON.stringify(columnName)} notNull`);
    expect(diff).toContain(`column ${JSON.stringify(columnName)} default`);
    expect(diff).toMatch(/index "[^"]+" columns/);
    expect(diff).toMatch(/foreign key "[^"]+" onDelete: "[A-Z ]+" in migrations, "[A-Z ]+" in schema\.prisma/);
    expect(diff).toContain(`enum ${JSON.stringify(enumName)} values`);
  });

  it("reports a field added to schema.prisma without a migration", async () => {
    const text = await readSchemaText();
    const firstModel = /^model (\w+) \{$/m.exec(text);
    if (!firstModel) throw new Error("schema.prisma has no model");
    const edited = text.replace(firstModel[0], `${firstModel[0]}\n  addedWithoutMigration String? @map("added_without_migration")`);
    const diff = diffShapes(catalog, shapeFromDatamodel(getDatamodel(edited), edited), LABELS);
    expect(diff).toEqual([expect.stringMatching(/^table "[^"]+" column "added_without_migration" is only in schema\.prisma: /)]);
  });
});
