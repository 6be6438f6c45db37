import pg from "pg";
import { parseIntoClientConfig } from "pg-connection-string";

/**
 * Creates the database named in `url` when it does not exist yet, by connecting to the server's
 * `postgres` maintenance database. Safe when several processes start at once.
 */
export async function ensureDatabase(url: string): Promise<{ created: boolean }> {
  // pg's own parser: it also reads forms `new URL` refuses (a Unix socket as `?host=/var/run/...`).
  const target = parseIntoClientConfig(url);
  const name = target.database;
  if (!name) throw new Error("DATABASE_URL names no database");
  const client = new pg.Client({ ...target, database: "postgres", connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount) return { created: false };
    try {
      await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
      return { created: true };
    } catch (error) {
      // Another process created it between our check and our CREATE: 42P04 duplicate_database, or
      // 23505 on pg_database's unique index when the two CREATEs ran at the same moment.
      const code = (error as { code?: string }).code;
      if (code === "42P04" || code === "23505") return { created: false };
      throw error;
    }
  } finally {
    await client.end();
  }
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
