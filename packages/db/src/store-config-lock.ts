import type { Store } from "./generated/prisma/client.ts";
import type { Tx } from "./client.ts";

/**
 * Serializes a change of an app's store configuration with the decisions taken on the strength of
 * the configuration a worker read: writers take it exclusively, a worker about to record "this
 * needs more configuration" takes it shared and checks that the configuration is still the one it
 * used. An advisory lock rather than a row lock, because the configuration may not exist yet.
 * Held until the transaction ends.
 */
export async function lockStoreConfig(tx: Tx, appId: string, store: Store, mode: "shared" | "exclusive"): Promise<void> {
  const name = `store-config:${appId}:${store}`;
  if (mode === "shared") await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock_shared(hashtextextended(${name}, 0))`;
  else await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${name}, 0))`;
}
