// SEALED_COLUMNS must name every column that holds a sealed value: the key check at start and
// `npm run keys:rotate` reach exactly those. A sealed column is one named `*_encrypted` or `sealed`.
import pg from "pg";
import { expect, it } from "vitest";
import { applyMigrations } from "../src/migrate.ts";
import { SEALED_COLUMNS } from "../src/sealed-columns.ts";
import { createDatabase, dropDatabase, newDatabaseName } from "./server.ts";

it("lists every column of the migrated schema that holds a sealed value, and only those", async () => {
  const name = newDatabaseName();
  const url = await createDatabase(name);
  const client = new pg.Client({ connectionString: url });
  try {
    await applyMigrations(url);
    await client.connect();
    const { rows } = await client.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
       WHERE table_schema = 'public' AND (column_name LIKE '%\\_encrypted' OR column_name = 'sealed')
       ORDER BY table_name, column_name`,
    );
    const listed = SEALED_COLUMNS.map(({ table, column }) => `${table}.${column}`).sort();
    expect(rows.map((row) => `${row.table_name}.${row.column_name}`)).toEqual(listed);
  } finally {
    await client.end().catch(() => undefined);
    await dropDatabase(name);
  }
});
