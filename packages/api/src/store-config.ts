import { z } from "zod";
import { AppError, firstIssue, type SecretBox } from "@subgate/core";
import type { Store } from "@subgate/schema";

/**
 * The store blocks of `POST /v1/apps` and `PATCH /v1/apps/{id}` (API.md). Each store's input is
 * split into `settings` (shown back by GET) and `secrets` (encrypted at rest, never shown back).
 */
const appleInput = z.strictObject({
  bundle_id: z.string().min(1).max(255),
  app_apple_id: z.number().int().positive().nullable().optional(),
  shared_secret: z.string().min(1).max(255).nullable().optional(),
});
const googleInput = z.strictObject({
  package_name: z.string().min(1).max(255),
  pubsub_audience: z.string().min(1).max(2048).nullable().optional(),
  pubsub_service_account_email: z.email().nullable().optional(),
});
const stripeInput = z.strictObject({
  webhook_secrets: z
    .array(z.string().regex(/^whsec_\S+$/, "must be a Stripe endpoint secret (whsec_...)"))
    .min(1)
    .max(10),
  api_key: z
    .string()
    .regex(/^(rk|sk)_(test|live)_\S+$/, "must be a Stripe secret or restricted key (rk_... or sk_...)")
    .nullable()
    .optional(),
});

export const STORE_BLOCKS = { apple: "app_store", google: "play_store", stripe: "stripe" } as const satisfies Record<string, Store>;
export type StoreBlock = keyof typeof STORE_BLOCKS;

const SCHEMAS = { apple: appleInput, google: googleInput, stripe: stripeInput } as const;
const SECRET_FIELDS: Record<StoreBlock, readonly string[]> = {
  apple: ["shared_secret"],
  google: [],
  stripe: ["webhook_secrets", "api_key"],
};

/**
 * A store block passed through as sent; mergeStoreBlock validates it strictly. (z.record would copy it
 * and silently drop a `__proto__` key instead of refusing it like any other unknown field.)
 */
const storeBlockInput = z.custom<Record<string, unknown>>((value) => typeof value === "object" && value !== null && !Array.isArray(value), {
  message: "expected an object",
});

/**
 * Store blocks as given in a request: partial on PATCH, where `null` clears an optional field.
 * Strict: an unknown top-level key (`"Stripe"`, a typo) is refused, not silently ignored.
 */
export const storeBlocksSchema = z.strictObject({
  apple: storeBlockInput.optional(),
  google: storeBlockInput.optional(),
  stripe: storeBlockInput.optional(),
});

export interface SplitConfig {
  settings: Record<string, unknown>;
  secrets: Record<string, unknown>;
}

/**
 * Merges a (possibly partial) block over the stored configuration, validates the result as a whole,
 * and splits it again. Unknown fields and invalid values are 400s naming the field.
 */
export function mergeStoreBlock(block: StoreBlock, stored: SplitConfig | null, input: Record<string, unknown>): SplitConfig {
  const merged = { ...stored?.settings, ...stored?.secrets, ...input };
  const parsed = SCHEMAS[block].safeParse(merged);
  if (!parsed.success) {
    throw new AppError("bad_request", firstIssue(parsed.error, { prefix: [block] }));
  }
  const settings: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(parsed.data)) {
    if (value === null || value === undefined) continue;
    (SECRET_FIELDS[block].includes(field) ? secrets : settings)[field] = value;
  }
  return { settings, secrets };
}

export function openStored(secretBox: SecretBox, row: { settings: unknown; secretsEncrypted: string }): SplitConfig {
  return {
    settings: row.settings as Record<string, unknown>,
    secrets: secretBox.openJson(row.secretsEncrypted) as Record<string, unknown>,
  };
}

/** What GET shows of a store configuration: settings, and only whether each secret is set. */
export function publicStoreView(block: StoreBlock, config: SplitConfig): Record<string, unknown> {
  const view: Record<string, unknown> = { ...config.settings };
  for (const field of SECRET_FIELDS[block]) {
    const value = config.secrets[field];
    if (Array.isArray(value)) view[`${field}_count`] = value.length;
    else view[`${field}_set`] = value !== undefined;
  }
  return view;
}

export function blockForStore(store: Store): StoreBlock {
  const entry = Object.entries(STORE_BLOCKS).find(([, value]) => value === store);
  if (!entry) throw new Error(`no block for store ${store}`);
  return entry[0] as StoreBlock;
}
