export { createPrismaClient, type Db, type DatabaseOptions, type Tx } from "./client.ts";
export { ensureDatabase, quoteIdentifier } from "./ensure-database.ts";
export { applyMigrations, readMigrations, MIGRATIONS_DIR, type Migration } from "./migrate.ts";
export { SEALED_COLUMNS, type SealedColumn } from "./sealed-columns.ts";
export { lockStoreConfig } from "./store-config-lock.ts";
export { Prisma } from "./generated/prisma/client.ts";
export type * from "./generated/prisma/client.ts";
