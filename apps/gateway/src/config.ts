import { z } from "zod";
import { DEFAULT_RETRY_SCHEDULE_MS, parseRetrySchedule } from "@subgate/delivery";

const booleanFlag = z
  .enum(["true", "false", "1", "0", ""])
  .default("false")
  .transform((value) => value === "true" || value === "1");

const httpUrl = z.url({ protocol: /^https?$/ });

/** Ingress URLs are this base plus `/ingress/...`: a query, a fragment or credentials would break them. */
const baseUrl = httpUrl.refine((value) => {
  const url = new URL(value);
  return url.search === "" && url.hash === "" && url.username === "" && url.password === "";
}, "must be a plain base URL, without query, fragment or credentials");

/**
 * Every setting subgate reads from the environment, validated once at start. Only the entry point
 * (main.ts) reads `process.env`; everything else takes a `GatewayConfig`.
 */
export const configSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL").default("postgresql://postgres@127.0.0.1:5432/subgate"),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, "must be a redis:// URL").default("redis://127.0.0.1:6379"),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    // Unset by default, so `start:server` and `start:worker` side by side on one machine do not collide.
    HEALTH_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    PUBLIC_BASE_URL: baseUrl.optional(),
    SUBGATE_ADMIN_TOKEN: z
      .string()
      .min(8, "must be at least 8 characters")
      // What an `Authorization: Bearer` header can carry (RFC 6750 b64token); anything else could never be sent.
      .regex(/^[A-Za-z0-9._~+/-]+=*$/, "may contain only letters, digits and - . _ ~ + / (then =)")
      .optional(),
    SUBGATE_ENCRYPTION_KEY: z.string().optional(),
    SUBGATE_DATA_DIR: z.string().default(".subgate"),
    WEBHOOK_ALLOW_PRIVATE_TARGETS: booleanFlag,
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
    WEBHOOK_RETRY_SCHEDULE: z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (!value) return [...DEFAULT_RETRY_SCHEDULE_MS];
        try {
          return parseRetrySchedule(value);
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as Error).message });
          return z.NEVER;
        }
      }),
    SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000),
    QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_{}-]+$/).default("subgate"),
    STRIPE_API_BASE_URL: httpUrl.default("https://api.stripe.com"),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === "production" && !env.SUBGATE_ENCRYPTION_KEY) {
      ctx.addIssue({ code: "custom", path: ["SUBGATE_ENCRYPTION_KEY"], message: "is required when NODE_ENV=production" });
    }
  });

export type Env = z.infer<typeof configSchema>;

export interface GatewayConfig {
  env: Env["NODE_ENV"];
  databaseUrl: string;
  redisUrl: string;
  port: number;
  /** Where a worker-only process answers /healthz and /readyz (0: any free port); null: it serves no HTTP. */
  healthPort: number | null;
  publicBaseUrl: string;
  adminToken: string | null;
  /** The 32-byte key, already resolved (see encryption-key.ts). */
  encryptionKey: string;
  allowPrivateTargets: boolean;
  webhookTimeoutMs: number;
  retryScheduleMs: number[];
  /** Delays before normalizing a notification again while its store's API is away (default in the worker). */
  notificationRetryScheduleMs?: readonly number[];
  sweepIntervalMs: number;
  sweepGraceMs: number;
  queuePrefix: string;
  stripeApiBaseUrl: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses the environment; a bad value is one clear line per variable, never a stack trace. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  // An empty variable (`PORT=` in a .env file) means unset, as in most tools, never "" or 0.
  const set = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value.trim() !== ""));
  const result = configSchema.safeParse(set);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join(".") || "environment"}: ${issue.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}
