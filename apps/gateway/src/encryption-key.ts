import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateKey, parseKey, parseKeyList } from "@subgate/core";
import { ConfigError, configLine } from "./config.ts";

const EXPECTED_KEYS =
  "32 bytes as 64 hex characters or base64 (openssl rand -hex 32), or a comma-separated list of such keys during a rotation (the first seals)";

/**
 * SUBGATE_ENCRYPTION_KEY when set (required in production): one key, or a comma-separated list
 * during a rotation. In development, a key generated into `<data dir>/encryption.key` on first
 * start, so `npm start` works on a fresh machine and keeps decrypting what it stored across restarts.
 */
export async function resolveEncryptionKey(options: {
  configured: string | undefined;
  dataDir: string;
  production: boolean;
  /** False where a new key would be no use (a rotation): a missing key is then an error. */
  generate?: boolean;
}): Promise<{ key: string; source: "environment" | "generated" | "file" }> {
  if (options.configured) {
    try {
      parseKeyList(options.configured);
    } catch (error) {
      // The message names a key by its position, never its value.
      throw new ConfigError(
        `invalid configuration:\n${configLine("SUBGATE_ENCRYPTION_KEY", options.configured, `${EXPECTED_KEYS} (${(error as Error).message})`)}`,
      );
    }
    return { key: options.configured, source: "environment" };
  }
  if (options.production) {
    throw new ConfigError(
      `invalid configuration:\n${configLine("SUBGATE_ENCRYPTION_KEY", undefined, `${EXPECTED_KEYS}: it is required when NODE_ENV=production`)}`,
    );
  }
  const path = join(options.dataDir, "encryption.key");
  try {
    const stored = (await readFile(path, "utf8")).trim();
    parseKey(stored);
    return { key: stored, source: "file" };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new ConfigError(`cannot use ${path}: ${(error as Error).message}`);
  }
  if (options.generate === false) {
    throw new ConfigError(
      `invalid configuration:\n${configLine("SUBGATE_ENCRYPTION_KEY", undefined, `${EXPECTED_KEYS}; there is no key file at ${path} either`)}`,
    );
  }
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  // Written whole under a private name, then linked into place: link() creates the name only if it
  // does not exist, so a process starting alongside sees no file or a complete one, never a half.
  const draft = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(draft, `${generateKey()}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(draft, path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
  } finally {
    await unlink(draft);
  }
  // Another process may have won the race to create it: use whatever the file holds now.
  return { key: (await readFile(path, "utf8")).trim(), source: "generated" };
}
