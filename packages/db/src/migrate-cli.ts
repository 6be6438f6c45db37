// `npm run db:migrate`: creates the database if needed and applies pending migrations.
import { ensureDatabase } from "./ensure-database.ts";
import { applyMigrations } from "./migrate.ts";

const url = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/subgate";
const { created } = await ensureDatabase(url);
const { applied } = await applyMigrations(url);
console.log(
  `${created ? "created the database; " : ""}${applied.length ? `applied ${applied.join(", ")}` : "no pending migrations"}`,
);
