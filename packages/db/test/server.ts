// Databases of the db package's own tests, created on the local PostgreSQL server and dropped
// afterwards (the package's tests cannot use @subgate/testing, which depends on this package).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { quoteIdentifier } from "../src/ensure-database.ts";

export const SERVER_URL = process.env.SUBGATE_TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export function urlFor(database: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function onServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A name for a database of this run: `subgate_migrate_<epoch seconds>_<random>`. */
export function newDatabaseName(): string {
  return `subgate_migrate_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString("hex")}`;
}

export async function createDatabase(name: string): Promise<string> {
  await onServer(`CREATE DATABASE ${quoteIdentifier(name)}`);
  return urlFor(name);
}

export async function dropDatabase(name: string): Promise<void> {
  await onServer(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
}
