import { sealedKeyId, type SecretBox } from "@subgate/core";
import { quoteIdentifier, SEALED_COLUMNS, type Db } from "@subgate/db";
import { checkEncryptionKeys, type KeySource } from "./encryption-check.ts";

export interface RotationResult {
  /** Values re-sealed with the first key. */
  resealed: number;
  /** Values that were sealed with it already. */
  unchanged: number;
}

/**
 * Re-seals every value of SEALED_COLUMNS that is not sealed with `box`'s first key, in one
 * transaction: rows are locked as they are read, so a configuration saved meanwhile waits, and
 * either everything is re-sealed or nothing is. A value no key of the ring opens stops it all.
 */
export async function rotateKeys(
  db: Db,
  box: SecretBox,
  options: { source?: KeySource; onProgress?: (done: number, total: number) => void } = {},
): Promise<RotationResult> {
  const onProgress = options.onProgress ?? (() => {});
  // Creates the check value if this database has none yet, and refuses keys that do not fit.
  await checkEncryptionKeys(db, box, options.source ?? "environment", "keys:rotate");
  return db.$transaction(
    async (tx) => {
      const rows: { table: string; column: string; where: string[]; key: unknown[]; sealed: string }[] = [];
      for (const { table, column, key } of SEALED_COLUMNS) {
        const keyColumns = key.map(quoteIdentifier).join(", ");
        // Identifiers cannot be bound parameters; these are the constants of SEALED_COLUMNS.
        const found = await tx.$queryRawUnsafe<Record<string, unknown>[]>(
          `SELECT ${keyColumns}, ${quoteIdentifier(column)} AS sealed FROM ${quoteIdentifier(table)} ORDER BY ${keyColumns} FOR UPDATE`,
        );
        for (const row of found) {
          rows.push({ table, column, where: [...key], key: key.map((name) => row[name]), sealed: row.sealed as string });
        }
      }
      let resealed = 0;
      let unchanged = 0;
      for (const [index, row] of rows.entries()) {
        if (sealedKeyId(row.sealed) === box.keyId) {
          unchanged++;
        } else {
          const condition = row.where.map((name, at) => `${quoteIdentifier(name)}::text = $${at + 2}`).join(" AND ");
          await tx.$executeRawUnsafe(
            `UPDATE ${quoteIdentifier(row.table)} SET ${quoteIdentifier(row.column)} = $1 WHERE ${condition}`,
            box.reseal(row.sealed),
            ...row.key.map(String),
          );
          resealed++;
        }
        onProgress(index + 1, rows.length);
      }
      return { resealed, unchanged };
    },
    { timeout: 10 * 60_000, maxWait: 30_000 },
  );
}
