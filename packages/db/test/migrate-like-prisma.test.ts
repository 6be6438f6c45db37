// The migration runner must behave like `prisma migrate deploy` (docs/ARCHITECTURE.md,
// "Migrations": "recorded ... exactly as Prisma records them ... migrate deploy ... agrees").
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/ensure-database.ts";
import { applyMigrations } from "../src/migrate.ts";
import { createDatabase, dropDatabase, newDatabaseName, urlFor } from "./server.ts";

const created: string[] = [];
let dir: string;

async function freshDatabase(): Promise<string> {
  const name = newDatabaseName();
  created.push(name);
  return createDatabase(name);
}

async function writeMigration(root: string, name: string, sql: string): Promise<void> {
  await mkdir(join(root, name), { recursive: true });
  await writeFile(join(root, name, "migration.sql"), sql);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "subgate-migrations-"));
});

afterAll(async () => {
  for (const name of created) await dropDatabase(name);
  await rm(dir, { recursive: true, force: true });
});

describe("applyMigrations compared with prisma migrate", () => {
  it("accepts an applied migration whose file only changed line endings (git autocrlf), as Prisma's checksum check does", async () => {
    const url = await freshDatabase();
    const root = join(dir, "crlf");
    const lf = '-- CreateTable\nCREATE TABLE "t" (\n    "id" TEXT NOT NULL,\n    CONSTRAINT "t_pkey" PRIMARY KEY ("id")\n);\n';
    await writeMigration(root, "20260101000000_init", lf);
    expect(await applyMigrations(url, root)).toEqual({ applied: ["20260101000000_init"] });
    // The same checkout on Windows: Prisma's script_matches_checksum also tries \r\n <-> \n.
    await writeMigration(root, "20260101000000_init", lf.replaceAll("\n", "\r\n"));
    await expect(applyMigrations(url, root)).resolves.toEqual({ applied: [] });
  });

  it("applies a migration whose only statement cannot run in a transaction block, as prisma migrate deploy (simple query) does", async () => {
    const url = await freshDatabase();
    const root = join(dir, "concurrently");
    await writeMigration(root, "20260101000000_init", 'CREATE TABLE "t" ("id" TEXT NOT NULL, "x" INTEGER);\n');
    await writeMigration(root, "20260102000000_index", 'CREATE INDEX CONCURRENTLY "t_x_idx" ON "t"("x");\n');
    await expect(applyMigrations(url, root)).resolves.toEqual({ applied: ["20260101000000_init", "20260102000000_index"] });
  });
});

describe("ensureDatabase", () => {
  it("creates a missing database when several processes start at once (its doc: 'Safe when several processes start at once')", async () => {
    const name = newDatabaseName();
    created.push(name);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => ensureDatabase(urlFor(name))));
    const failures = results.flatMap((result) => (result.status === "rejected" ? [String(result.reason)] : []));
    expect(failures).toEqual([]);
    expect(results.filter((result) => result.status === "fulfilled" && result.value.created)).toHaveLength(1);
  });

  it("accepts a Unix-socket DATABASE_URL that pg (and Prisma's adapter) accept", async () => {
    const name = newDatabaseName();
    created.push(name);
    const socketUrl = `postgresql://postgres@/${name}?host=/var/run/postgresql`;
    // pg itself connects with this URL (to the maintenance database here).
    const probe = new pg.Client({ connectionString: socketUrl.replace(`/${name}?`, "/postgres?") });
    await probe.connect();
    await probe.end();
    await expect(ensureDatabase(socketUrl)).resolves.toEqual({ created: true });
  });
});
