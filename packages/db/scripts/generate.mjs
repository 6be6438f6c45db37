// Runs `prisma generate` without the schema-engine binary the Prisma CLI would otherwise try to
// download: generate never runs that engine, it only checks that the file exists, so Node's own
// binary stands in for it. The client itself needs no engine (it runs through @prisma/adapter-pg).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
const result = spawnSync("npx", ["--no-install", "prisma", "generate"], { cwd: root, env, stdio: "inherit" });
process.exit(result.status ?? 1);
