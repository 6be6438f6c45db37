// `npm run db:migrate`: creates the database if needed and applies pending migrations.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ensureDatabase } from "./ensure-database.ts";
import { applyMigrations } from "./migrate.ts";

// Like `npm start`: the `.env` of the folder npm was started from (INIT_CWD) is read, and the
// environment wins over it.
const envFile = join(process.env.INIT_CWD || process.cwd(), ".env");
if (existsSync(envFile)) process.loadEnvFile(envFile);

const url = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/subgate";
const { created } = await ensureDatabase(url);
const { applied } = await applyMigrations(url);
console.log(`${created ? "created the database; " : ""}${applied.length ? `applied ${applied.join(", ")}` : "no pending migrations"}`);
