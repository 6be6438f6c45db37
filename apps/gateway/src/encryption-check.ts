import { sealedKeyId, type SecretBox } from "@subgate/core";
import { quoteIdentifier, SEALED_COLUMNS, type Db } from "@subgate/db";
import { ConfigError, configLine } from "./config.ts";

/** What the check value holds; any fixed text would do, it only has to open. */
const CHECK_PLAINTEXT = "subgate encryption check v1";

/** Where the keys came from, for the message when they do not fit the database. */
export type KeySource = "environment" | "file" | "generated";

export interface KeyCheck {
  /** Stored values sealed with a key of the ring other than the first: `npm run keys:rotate` re-seals them. */
  sealedWithOtherKeys: number;
}

/**
 * Proves, before the process serves or works, that its keys open what the database holds: the
 * sealed check value must open, and no stored secret may name a key outside the ring. Otherwise it
 * refuses to start with a ConfigError that says what to do, instead of answering the first
 * ingress request that needs a secret with an error.
 */
export async function checkEncryptionKeys(db: Db, box: SecretBox, source: KeySource, command = "subgate"): Promise<KeyCheck> {
  const inUse = await sealedKeyCounts(db, { withCheckValue: false });
  const unknown = [...inUse].filter(([keyId]) => !box.keyIds.includes(keyId));
  if (unknown.length > 0) {
    const [keyId, count] = unknown[0] as [string, number];
    throw keyMismatch(box, source, command, `${count} stored secret(s) are sealed with key ${keyId}`);
  }

  // Written once, by whichever process starts first; the others read what it wrote.
  await db.$executeRaw`
    INSERT INTO encryption_check (id, sealed, updated_at) VALUES (1, ${box.seal(CHECK_PLAINTEXT)}, now())
    ON CONFLICT (id) DO NOTHING`;
  const row = await db.encryptionCheck.findUniqueOrThrow({ where: { id: 1 } });
  let opened: string | null = null;
  try {
    opened = box.open(row.sealed);
  } catch {
    // Named below by the key id the value carries.
  }
  if (opened !== CHECK_PLAINTEXT) {
    throw keyMismatch(box, source, command, `the database's check value is sealed with key ${sealedKeyId(row.sealed) ?? "(unreadable)"}`);
  }
  const others = [...inUse].filter(([keyId]) => keyId !== box.keyId).reduce((sum, [, count]) => sum + count, 0);
  return { sealedWithOtherKeys: others + (sealedKeyId(row.sealed) === box.keyId ? 0 : 1) };
}

/** How many stored values name each key id, the check value with them or not. */
export async function sealedKeyCounts(db: Pick<Db, "$queryRawUnsafe">, options: { withCheckValue: boolean }): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { table, column } of SEALED_COLUMNS) {
    if (table === "encryption_check" && !options.withCheckValue) continue;
    // Identifiers cannot be bound parameters; these are the constants of SEALED_COLUMNS.
    const rows = await db.$queryRawUnsafe<{ key_id: string; count: number }[]>(
      `SELECT split_part(${quoteIdentifier(column)}, '.', 2) AS key_id, count(*)::int AS count FROM ${quoteIdentifier(table)} GROUP BY 1`,
    );
    for (const { key_id: keyId, count } of rows) counts.set(keyId, (counts.get(keyId) ?? 0) + count);
  }
  return counts;
}

function keyMismatch(box: SecretBox, source: KeySource, command: string, found: string): ConfigError {
  const configured = `the configured key(s) are ${box.keyIds.join(", ")}`;
  const hints: Record<KeySource, string> = {
    environment:
      "set the key they were sealed with; during a rotation list the new key first and the old one after it, then run npm run keys:rotate",
    file: "the development key file in SUBGATE_DATA_DIR is not the key this database was used with: restore that file, set SUBGATE_ENCRYPTION_KEY, or use a new database",
    generated:
      "a new development key file was just generated in SUBGATE_DATA_DIR, but this database was used with another key: put back the key file it was used with, set SUBGATE_ENCRYPTION_KEY, or use a new database",
  };
  return new ConfigError(
    `${command} cannot start: none of its encryption keys opens the secrets stored in this database\n` +
      configLine(
        "SUBGATE_ENCRYPTION_KEY",
        source === "environment" ? "" : undefined,
        `a key that opens them: ${found}, and ${configured}; ${hints[source]}`,
      ),
  );
}
