// `npm run keys:rotate`: re-seals every stored secret, and the key check value, with the first key of
// SUBGATE_ENCRYPTION_KEY, in one transaction (key-rotation.ts). The steps of a rotation are in the README.
import { SingleBar } from "cli-progress";
import { SecretBox, UnknownEncryptionKeyError } from "@subgate/core";
import { applyMigrations, createPrismaClient } from "@subgate/db";
import { ConfigError, parseEnv } from "./config.ts";
import { resolveEncryptionKey } from "./encryption-key.ts";
import { readEnvironment } from "./environment.ts";
import { rotateKeys } from "./key-rotation.ts";

async function main(): Promise<void> {
  const env = parseEnv(readEnvironment());
  const encryption = await resolveEncryptionKey({
    configured: env.SUBGATE_ENCRYPTION_KEY,
    dataDir: env.SUBGATE_DATA_DIR,
    production: env.NODE_ENV === "production",
    generate: false,
  });
  const box = SecretBox.fromString(encryption.key);
  await applyMigrations(env.DATABASE_URL);
  const db = createPrismaClient({ url: env.DATABASE_URL, poolSize: 2 });
  // A bar on a terminal; a line at the end either way.
  const bar = process.stderr.isTTY
    ? new SingleBar({ stream: process.stderr, format: "re-sealing stored secrets [{bar}] {value}/{total}", hideCursor: true })
    : null;
  try {
    const result = await rotateKeys(db, box, {
      source: encryption.source,
      onProgress: (done, total) => {
        if (done === 1) bar?.start(total, 0);
        bar?.update(done);
      },
    });
    bar?.stop();
    const done = `re-sealed ${result.resealed} stored secret(s) with key ${box.keyId} (${result.unchanged} already were).`;
    const next =
      box.keyIds.length > 1 ? " Once every subgate process has restarted, SUBGATE_ENCRYPTION_KEY may hold the first key alone." : "";
    process.stdout.write(`${done}${next}\n`);
  } finally {
    bar?.stop();
    await db.$disconnect();
  }
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError || error instanceof UnknownEncryptionKeyError
      ? error.message
      : `keys:rotate failed: ${(error as Error).message ?? error}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
