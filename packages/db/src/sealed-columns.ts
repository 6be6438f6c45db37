/**
 * Every column that holds values sealed with SUBGATE_ENCRYPTION_KEY (@subgate/core's SecretBox).
 * The key check at start and `npm run keys:rotate` reach exactly these, so a new sealed column must
 * be added here (packages/db/test/sealed-columns.test.ts fails until it is).
 */
export const SEALED_COLUMNS = [
  { table: "store_configs", column: "secrets_encrypted", key: ["app_id", "store"] },
  { table: "webhook_endpoints", column: "secret_encrypted", key: ["id"] },
  { table: "encryption_check", column: "sealed", key: ["id"] },
] as const;

export type SealedColumn = (typeof SEALED_COLUMNS)[number];
