import { createPrivateKey } from "node:crypto";
import { z } from "zod";
import { defineStoreModule, type StoreModule } from "../store-module.ts";
import { createAppleAdapter } from "./adapter.ts";
import type { AppleAdapterOptions } from "./config.ts";

/** The `.p8` file App Store Connect downloads: an EC P-256 key in PKCS#8 PEM. */
function isP256Pkcs8(pem: string): boolean {
  if (!pem.includes("-----BEGIN PRIVATE KEY-----")) return false;
  try {
    const key = createPrivateKey({ key: pem, format: "pem" });
    return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1";
  } catch {
    return false;
  }
}

const API_KEY_FIELDS = ["issuer_id", "key_id", "private_key"] as const;

/** The `apple` block of an app (`POST /v1/apps`). */
export const AppleConfigSchema = z
  .strictObject({
    bundle_id: z.string().min(1).max(255),
    app_apple_id: z.number().int().positive().nullable().optional(),
    shared_secret: z.string().min(1).max(255).nullable().optional(),
    // An App Store Server API key (App Store Connect → Users and Access → Integrations → In-App Purchase).
    issuer_id: z.uuid({ error: "expected the issuer id App Store Connect shows (a UUID)" }).nullable().optional(),
    key_id: z
      .string()
      .regex(/^[A-Z0-9]{10}$/, "expected the key id App Store Connect shows (10 letters and digits)")
      .nullable()
      .optional(),
    private_key: z
      .string()
      .max(4096)
      // A key pasted into JSON by hand often arrives with literal `\n` for its line breaks.
      .transform((pem) => pem.replaceAll("\\n", "\n").trim())
      .refine(isP256Pkcs8, "expected the text of the .p8 file App Store Connect downloads (-----BEGIN PRIVATE KEY-----, an EC P-256 key)")
      .nullable()
      .optional(),
  })
  .superRefine((block, ctx) => {
    // A partial key can sign nothing: the three come together or not at all.
    const set = API_KEY_FIELDS.filter((field) => block[field] != null);
    if (set.length === 0 || set.length === API_KEY_FIELDS.length) return;
    for (const field of API_KEY_FIELDS.filter((name) => block[name] == null)) {
      ctx.addIssue({
        code: "custom",
        path: [field],
        message: `required with ${set.join(" and ")}: an App Store Server API key has all three`,
      });
    }
  });

export type AppleStoredConfig = z.output<typeof AppleConfigSchema>;

export function createAppleModule(options: AppleAdapterOptions = {}): StoreModule {
  return defineStoreModule({
    store: "app_store",
    block: "apple",
    segment: "apple",
    configSchema: AppleConfigSchema,
    secretFields: ["shared_secret", ...API_KEY_FIELDS],
    toAdapterConfig: (stored) => ({
      bundleId: stored.bundle_id,
      appAppleId: stored.app_apple_id ?? null,
      sharedSecret: stored.shared_secret ?? null,
    }),
    adapter: createAppleAdapter(options),
  });
}
