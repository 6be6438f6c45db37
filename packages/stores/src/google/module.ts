import { createPrivateKey } from "node:crypto";
import { z } from "zod";
import { EnvironmentSchema } from "@subgate/schema";
import { defineStoreModule, type StoreModule } from "../store-module.ts";
import { createGoogleAdapter } from "./adapter.ts";
import type { GoogleAdapterOptions } from "./config.ts";

function isRsaPrivateKey(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === "rsa";
  } catch {
    return false;
  }
}

/** A service account's JSON key, the object Google Cloud downloads; its other fields are kept as they are. */
const ServiceAccountKeySchema = z.looseObject({
  type: z.literal("service_account", { error: 'expected a service account key ("type": "service_account")' }),
  client_email: z.email(),
  private_key: z
    .string()
    .max(8192)
    // A key pasted into JSON by hand often arrives with literal `\n` for its line breaks.
    .transform((pem) => pem.replaceAll("\\n", "\n").trim())
    .refine(isRsaPrivateKey, "expected the private_key of the key file Google Cloud downloads (-----BEGIN PRIVATE KEY-----, RSA)"),
  private_key_id: z.string().max(255).optional(),
  project_id: z.string().max(255).optional(),
});

/** The `google` block of an app (`POST /v1/apps`). */
export const GoogleConfigSchema = z
  .strictObject({
    package_name: z.string().min(1).max(255),
    pubsub_audience: z.string().min(1).max(2048).nullable().optional(),
    pubsub_service_account_email: z.email().nullable().optional(),
    service_account_key: ServiceAccountKeySchema.nullable().optional(),
    test_environment: EnvironmentSchema.nullable().optional(),
  })
  .superRefine((block, ctx) => {
    // Half an OIDC configuration would check nothing it names: the two come together.
    const audience = block.pubsub_audience != null;
    const email = block.pubsub_service_account_email != null;
    if (audience === email) return;
    const missing = audience ? "pubsub_service_account_email" : "pubsub_audience";
    ctx.addIssue({
      code: "custom",
      path: [missing],
      message: "required with the other: push authentication checks both the audience and the account",
    });
  });

export function createGoogleModule(options: GoogleAdapterOptions = {}): StoreModule {
  return defineStoreModule({
    store: "play_store",
    block: "google",
    segment: "google",
    configSchema: GoogleConfigSchema,
    secretFields: ["service_account_key"],
    toAdapterConfig: (stored) => ({
      packageName: stored.package_name,
      pubsubAudience: stored.pubsub_audience ?? null,
      pubsubServiceAccountEmail: stored.pubsub_service_account_email ?? null,
      serviceAccountKey: stored.service_account_key ?? null,
      testEnvironment: stored.test_environment ?? "production",
    }),
    adapter: createGoogleAdapter(options),
  });
}
