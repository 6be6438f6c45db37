import { z } from "zod";
import { AppError, firstIssue, type SecretBox } from "@subgate/core";
import type { StoreModule, StoreRegistry } from "@subgate/stores";

/*
 * The store blocks of `POST /v1/apps` and `PATCH /v1/apps/{id}`. Each store's module names its block,
 * its schema and its secret fields; its input is split into `settings` (shown back by GET) and
 * `secrets` (encrypted at rest, never shown back).
 */

/**
 * A store block passed through as sent; mergeStoreBlock validates it strictly. (z.record would copy it
 * and silently drop a `__proto__` key instead of refusing it like any other unknown field.)
 */
const storeBlockInput = z.custom<Record<string, unknown>>((value) => typeof value === "object" && value !== null && !Array.isArray(value), {
  message: "expected an object",
});

export type StoreBlocksInput = Partial<Record<string, Record<string, unknown>>>;

/**
 * An app's body: its `name`, and one optional block per store of the registry (partial on PATCH,
 * where `null` clears an optional field). Strict: an unknown top-level key (`"Stripe"`, a typo) is
 * refused, not silently ignored.
 */
export function appInputSchema<Name extends z.ZodType>(registry: StoreRegistry, name: Name) {
  const blocks = Object.fromEntries(registry.all().map((module) => [module.block, storeBlockInput.optional()]));
  // The blocks' keys come from the registry at run time, which the static type cannot list.
  return z.strictObject({ ...blocks, name }) as unknown as z.ZodType<{ name: z.output<Name> } & StoreBlocksInput>;
}

export interface SplitConfig {
  settings: Record<string, unknown>;
  secrets: Record<string, unknown>;
}

/**
 * Merges a (possibly partial) block over the stored configuration, validates the result as a whole,
 * and splits it again. Unknown fields and invalid values are 400s naming the field.
 */
export function mergeStoreBlock(module: StoreModule, stored: SplitConfig | null, input: Record<string, unknown>): SplitConfig {
  const merged = { ...stored?.settings, ...stored?.secrets, ...input };
  const parsed = module.configSchema.safeParse(merged);
  if (!parsed.success) {
    throw new AppError("bad_request", firstIssue(parsed.error, { prefix: [module.block] }));
  }
  const settings: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(parsed.data)) {
    if (value === null || value === undefined) continue;
    (module.secretFields.includes(field) ? secrets : settings)[field] = value;
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
export function publicStoreView(module: StoreModule, config: SplitConfig): Record<string, unknown> {
  const view: Record<string, unknown> = { ...config.settings };
  for (const field of module.secretFields) {
    const value = config.secrets[field];
    if (Array.isArray(value)) view[`${field}_count`] = value.length;
    else view[`${field}_set`] = value !== undefined;
  }
  return view;
}
