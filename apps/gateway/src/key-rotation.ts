import type { SecretBox } from "@subgate/core";
import { quoteIdentifier, SEALED_COLUMNS, type Db, type Tx } from "@subgate/db";
import { checkEncryptionKeys, sealedKeyCounts, type KeySource } from "./encryption-check.ts";

export interface RotationResult {
  /** Values re-sealed with the first key. */
  resealed: number;
  /** Values that were sealed with it already. */
  unchanged: number;
}

/** Passes over the sealed columns before values sealed with another key are taken to keep arriving. */
const MAX_PASSES = 3;

interface SealedRow {
  table: string;
  column: string;
  where: readonly string[];
  key: unknown[];
  sealed: string;
}

/**
 * Re-seals every value of SEALED_COLUMNS that is not sealed with `box`'s first key, in one
 * transaction: rows are locked as they are read, so a configuration saved meanwhile waits, and
 * either everything is re-sealed or nothing is. A value no key of the ring opens stops it all. It
 * looks again before committing: a process not yet restarted with the new key may have sealed a
 * value with the old one meanwhile, and the rotation is only done when none is left.
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
      const unchanged = (await sealedKeyCounts(tx, { withCheckValue: true })).get(box.keyId) ?? 0;
      let resealed = 0;
      for (let pass = 1; ; pass++) {
        const rows = await sealedWithOtherKeys(tx, box.keyId);
        if (rows.length === 0) return { resealed, unchanged };
        if (pass > MAX_PASSES) {
          throw new Error(
            `values sealed with another key keep being written (${rows.length} after ${MAX_PASSES} passes): ` +
              "restart every subgate process with the new key first in SUBGATE_ENCRYPTION_KEY, then run keys:rotate again",
          );
        }
        for (const [index, row] of rows.entries()) {
          const condition = row.where.map((name, at) => `${quoteIdentifier(name)}::text = $${at + 2}`).join(" AND ");
          await tx.$executeRawUnsafe(
            `UPDATE ${quoteIdentifier(row.table)} SET ${quoteIdentifier(row.column)} = $1 WHERE ${condition}`,
            box.reseal(row.sealed),
            ...row.key.map(String),
          );
          resealed++;
          onProgress(index + 1, rows.length);
        }
      }
    },
    { timeout: 10 * 60_000, maxWait: 30_000 },
  );
}

/** The values not sealed with `keyId`, locked until the transaction ends. */
async function sealedWithOtherKeys(tx: Tx, keyId: string): Promise<SealedRow[]> {
  const rows: SealedRow[] = [];
  for (const { table, column, key } of SEALED_COLUMNS) {
    const keyColumns = key.map(quoteIdentifier).join(", ");
    // Identifiers cannot be bound parameters; these are the constants of SEALED_COLUMNS.
    const found = await tx.$queryRawUnsafe<Record<string, unknown>[]>(
      `SELECT ${keyColumns}, ${quoteIdentifier(column)} AS sealed FROM ${quoteIdentifier(table)}
       WHERE split_part(${quoteIdentifier(column)}, '.', 2) <> $1 ORDER BY ${keyColumns} FOR UPDATE`,
      keyId,
    );
    for (const row of found) rows.push({ table, column, where: key, key: key.map((name) => row[name]), sealed: row.sealed as string });
  }
  return rows;
}
