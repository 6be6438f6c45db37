// Prisma CLI configuration (Prisma 7 reads the connection URL from here, not from schema.prisma).
// subgate applies its migrations itself (@subgate/db); `npx prisma migrate deploy` agrees with it.
import { existsSync } from "node:fs";
import { defineConfig } from "prisma/config";

// The same `.env` as `npm start` reads (Prisma 7 no longer loads it); the environment wins over it.
if (existsSync(".env")) process.loadEnvFile(".env");

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/subgate" },
});
