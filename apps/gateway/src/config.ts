import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { createSecureContext } from "node:tls";
import proxyAddr from "proxy-addr";
import { z } from "zod";
import { DEFAULT_RETRY_SCHEDULE_MS, parseRetrySchedule } from "@subgate/delivery";
import { createAddressAllowList } from "@subgate/ingress";
import { loadTrustedRoots } from "@subgate/stores";

/*
 * Every setting subgate reads from the environment, validated once at start. Only the entry point
 * (main.ts) reads `process.env`; everything else takes a `GatewayConfig`. Each schema's messages
 * say what is expected, so a refusal reads `PORT: got "abc"; expected an integer from 0 to 65535`.
 */

/** A whole number in a range, written in decimal digits (`z.coerce` would turn "" and " " into 0). */
function integer(min: number, max: number, what = "an integer") {
  const expected = `${what} from ${min} to ${max}`;
  return z.string().trim().regex(/^\d+$/, expected).transform(Number).pipe(z.number().int().min(min, expected).max(max, expected));
}

const TRUE = ["true", "1", "yes", "on"];
const FALSE = ["false", "0", "no", "off"];
/** The usual spellings of a yes or no, in any case. */
const booleanFlag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((value) => TRUE.includes(value) || FALSE.includes(value), `true or false (also 1/0, yes/no, on/off, in any case)`)
  .transform((value) => TRUE.includes(value))
  .optional()
  .transform((value) => value ?? false);

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
const httpUrl = z.string().trim().refine(isHttpUrl, "an http:// or https:// URL, such as https://example.com");

/** Ingress URLs are this base plus `/ingress/...`: a query, a fragment or credentials would break them. */
const baseUrl = httpUrl.refine((value) => {
  const url = new URL(value);
  return url.search === "" && url.hash === "" && url.username === "" && url.password === "";
}, "a plain base URL without query, fragment or credentials, such as https://subgate.example.com");

/** A host name (RFC 1123 labels) or an IPv4 or IPv6 address. */
const host = z
  .string()
  .trim()
  .refine(
    (value) =>
      isIP(value) !== 0 ||
      /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(value),
    "an IP address (0.0.0.0 for every IPv4 interface, :: for every interface) or a host name",
  );

/** An optional setting read by `parse`; what `parse` throws is said after what is expected. */
function parsedWith<T, U>(expected: string, parse: (value: string) => T, unset: () => U) {
  return z
    .string()
    .optional()
    .transform((value, ctx): T | U => {
      if (!value) return unset();
      try {
        return parse(value);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: `${expected} (${(error as Error).message})` });
        return z.NEVER;
      }
    });
}

/** Comma-separated entries, trimmed. An empty one is refused, not skipped: `17.0.0.0/8,` is a slip. */
function entriesOf(value: string): string[] {
  const entries = value.split(",").map((entry) => entry.trim());
  if (entries.includes("")) throw new Error("an entry is empty: two commas in a row, or one at an end");
  return entries;
}

/** Comma-separated files of trusted root certificates (PEM or DER), read now so a bad one stops the start. */
const rootCertificates = parsedWith(
  "comma-separated paths of PEM or DER certificates",
  (value) =>
    loadTrustedRoots(
      ...value
        .split(",")
        .map((path) => path.trim())
        .filter(Boolean),
    ),
  () => null,
);

/** Addresses and CIDR ranges, checked now so a typo stops the start instead of refusing Apple. */
const appleAllowedIps = parsedWith(
  "comma-separated IPv4 or IPv6 addresses or CIDR ranges, such as 17.0.0.0/8",
  (value) => {
    const entries = entriesOf(value);
    createAddressAllowList("APPLE_INGRESS_ALLOWED_IPS", entries);
    return entries;
  },
  () => null,
);

/**
 * Express's `trust proxy`, in the forms Express takes: true or false, a number of proxies in front
 * (hops), or addresses, CIDR ranges and proxy-addr's names. The list is compiled by proxy-addr now,
 * as Express compiles it, so a value Express would throw on stops the start.
 */
const trustProxy = parsedWith(
  "true, false, a number of proxies, or comma-separated addresses, CIDR ranges and loopback, linklocal, uniquelocal",
  (value): boolean | number | string[] => {
    const trimmed = value.trim();
    if (/^(true|false)$/i.test(trimmed)) return trimmed.toLowerCase() === "true";
    if (/^\d{1,6}$/.test(trimmed)) return Number(trimmed);
    const entries = entriesOf(trimmed);
    proxyAddr.compile(entries);
    return entries;
  },
  () => false,
);

/**
 * `true` makes the client address the first X-Forwarded-For entry, which the client writes itself (a
 * proxy appends to the header): anyone could claim to be Apple. An allow list needs a hop count or
 * the proxies' addresses, which make it the entry the last trusted proxy wrote.
 */
export const TRUST_PROXY_WITH_ALLOW_LIST =
  "a number of proxies or the proxies' addresses: with APPLE_INGRESS_ALLOWED_IPS set, true would believe the X-Forwarded-For a client writes itself, and let anyone past the list";

const TLS_KEY_EXPECTED = "a PEM file with the certificate's unencrypted private key";

/** The server's certificate (then any intermediates), read now: HTTPS takes PEM only. */
const tlsCertificate = parsedWith(
  "a PEM file with the server's certificate",
  (path) => {
    const pem = readFileSync(path);
    try {
      createSecureContext({ cert: pem });
    } catch (error) {
      throw new Error(`it holds no PEM certificate: ${(error as Error).message}`);
    }
    return pem;
  },
  () => null,
);

const tlsKey = parsedWith(
  TLS_KEY_EXPECTED,
  (path) => {
    const pem = readFileSync(path);
    try {
      createPrivateKey(pem);
    } catch (error) {
      // Node would ask for a passphrase on the terminal: a service has none to give.
      if (pem.includes("ENCRYPTED")) throw new Error("it is encrypted, and subgate takes no passphrase");
      throw new Error(`it holds no private key: ${(error as Error).message}`);
    }
    return pem;
  },
  () => null,
);

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `one of ${values.join(", ")}` });

export const configSchema = z
  .object({
    NODE_ENV: oneOf(["development", "production", "test"]).default("development"),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "a postgresql:// URL")
      .default("postgresql://postgres@127.0.0.1:5432/subgate"),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, "a redis:// or rediss:// URL")
      .default("redis://127.0.0.1:6379"),
    HOST: host.default("0.0.0.0"),
    PORT: integer(0, 65535).default(3000),
    // Unset by default, so `start:server` and `start:worker` side by side on one machine do not collide.
    HEALTH_PORT: integer(0, 65535).optional(),
    PUBLIC_BASE_URL: baseUrl.optional(),
    TRUST_PROXY: trustProxy,
    TLS_CERT_FILE: tlsCertificate,
    TLS_KEY_FILE: tlsKey,
    SUBGATE_ADMIN_TOKEN: z
      .string()
      .min(8, "at least 8 characters")
      // What an `Authorization: Bearer` header can carry (RFC 6750 b64token); anything else could never be sent.
      .regex(/^[A-Za-z0-9._~+/-]+=*$/, "only letters, digits and - . _ ~ + / (then =), as a bearer token can carry")
      .optional(),
    // Checked where it is resolved (encryption-key.ts), which also reads the development key file.
    SUBGATE_ENCRYPTION_KEY: z.string().optional(),
    SUBGATE_DATA_DIR: z.string().default(".subgate"),
    WEBHOOK_ALLOW_PRIVATE_TARGETS: booleanFlag,
    WEBHOOK_TIMEOUT_MS: integer(100, 120_000, "a number of milliseconds").default(15_000),
    WEBHOOK_RETRY_SCHEDULE: parsedWith("comma-separated delays such as 5s,5m,30m,2h", parseRetrySchedule, () => [
      ...DEFAULT_RETRY_SCHEDULE_MS,
    ]),
    SWEEP_INTERVAL_MS: integer(100, 86_400_000, "a number of milliseconds").default(30_000),
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_{}-]+$/, "letters, digits, _, -, { and } only")
      .default("subgate"),
    STRIPE_API_BASE_URL: httpUrl.default("https://api.stripe.com"),
    APP_STORE_API_BASE_URL: httpUrl.default("https://api.storekit.itunes.apple.com"),
    APP_STORE_SANDBOX_API_BASE_URL: httpUrl.default("https://api.storekit-sandbox.itunes.apple.com"),
    PLAY_API_BASE_URL: httpUrl.default("https://androidpublisher.googleapis.com"),
    GOOGLE_OIDC_CERTS_URL: httpUrl.default("https://www.googleapis.com/oauth2/v3/certs"),
    APPLE_ROOT_CERTS: rootCertificates,
    APPLE_ONLINE_CHECKS: booleanFlag,
    APPLE_OCSP_URL: httpUrl.optional(),
    APPLE_ALLOW_LOCAL_ENVIRONMENTS: booleanFlag,
    APPLE_INGRESS_ALLOWED_IPS: appleAllowedIps,
    LOG_LEVEL: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === "production" && !env.SUBGATE_ENCRYPTION_KEY) {
      ctx.addIssue({ code: "custom", path: ["SUBGATE_ENCRYPTION_KEY"], message: "a key: it is required when NODE_ENV=production" });
    }
    if (env.TRUST_PROXY === true && env.APPLE_INGRESS_ALLOWED_IPS?.length) {
      ctx.addIssue({ code: "custom", path: ["TRUST_PROXY"], message: TRUST_PROXY_WITH_ALLOW_LIST });
    }
    const [cert, key] = [env.TLS_CERT_FILE, env.TLS_KEY_FILE];
    if (cert && !key) {
      ctx.addIssue({ code: "custom", path: ["TLS_KEY_FILE"], message: `${TLS_KEY_EXPECTED} (TLS_CERT_FILE is set: HTTPS needs both)` });
    } else if (key && !cert) {
      ctx.addIssue({
        code: "custom",
        path: ["TLS_CERT_FILE"],
        message: "a PEM file with the server's certificate (TLS_KEY_FILE is set: HTTPS needs both)",
      });
    } else if (cert && key) {
      try {
        createSecureContext({ cert, key });
      } catch (error) {
        const reason = /key values mismatch/.test((error as Error).message)
          ? "it is not the key of the certificate in TLS_CERT_FILE"
          : (error as Error).message;
        ctx.addIssue({ code: "custom", path: ["TLS_KEY_FILE"], message: `${TLS_KEY_EXPECTED} (${reason})` });
      }
    }
  });

export type Env = z.infer<typeof configSchema>;

export interface GatewayConfig {
  env: Env["NODE_ENV"];
  databaseUrl: string;
  redisUrl: string;
  /** The address the HTTP server binds. */
  host: string;
  port: number;
  /** Where a worker-only process answers /healthz and /readyz (0: any free port); null: it serves no HTTP. */
  healthPort: number | null;
  publicBaseUrl: string;
  adminToken: string | null;
  /** The key ring, already resolved (see encryption-key.ts): one key, or several during a rotation. */
  encryptionKey: string;
  /** Where it came from, for the message when it does not open what the database holds. */
  encryptionKeySource?: "environment" | "file" | "generated";
  allowPrivateTargets: boolean;
  webhookTimeoutMs: number;
  retryScheduleMs: number[];
  /** Delays before normalizing a notification again while its store's API is away (default in the worker). */
  notificationRetryScheduleMs?: readonly number[];
  sweepIntervalMs: number;
  sweepGraceMs: number;
  queuePrefix: string;
  stripeApiBaseUrl: string;
  /** App Store Server API, production and sandbox; absent: Apple's hosts. */
  appStoreApiBaseUrl?: string;
  appStoreSandboxApiBaseUrl?: string;
  /** The Android Publisher API root and Google's OIDC JWK set; absent: Google's. */
  playApiBaseUrl?: string;
  googleOidcCertsUrl?: string;
  /** DER roots Apple JWS chains must end at; absent: Apple Root CA - G3, shipped with subgate. */
  appleTrustedRoots?: Uint8Array[] | null;
  /** Check Apple chains at the current time with OCSP, instead of at each payload's signedDate. */
  appleOnlineChecks?: boolean;
  appleOcspUrl?: string | null;
  /** Accept Apple's unsigned Xcode and LocalTesting payloads (local development only). */
  appleAllowLocalEnvironments?: boolean;
  /** Addresses and CIDR ranges allowed to post to App Store ingress URLs; absent or null: any address. */
  appleIngressAllowedIps?: string[] | null;
  /** Express's `trust proxy` (true, a hop count, or addresses and ranges); absent: false, no proxy believed. */
  trustProxy?: boolean | number | string[];
  /** PEM certificate (chain) and key: the HTTP server serves HTTPS, TLS 1.2 and later; absent or null: plain HTTP. */
  tls?: { cert: Buffer; key: Buffer } | null;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Variables whose value is never repeated in a message. */
const SECRETS = new Set(["SUBGATE_ADMIN_TOKEN", "SUBGATE_ENCRYPTION_KEY"]);

/**
 * A refused value as a message may show it: secrets not at all, URLs without their password, and a
 * `*_URL` value that is no URL at all not either (it may be a connection string with a password in it).
 */
export function shownValue(name: string, value: string): string {
  if (SECRETS.has(name)) return "a value (not shown: it is a secret)";
  let shown = value;
  if (name.endsWith("_URL")) {
    try {
      const url = new URL(value);
      if (url.password) {
        url.password = "***";
        shown = url.href;
      }
    } catch {
      return "a value that is not a URL (not shown: it may hold a password)";
    }
  }
  return JSON.stringify(shown.length > 120 ? `${shown.slice(0, 120)}…` : shown);
}

/** One line of a configuration refusal: what was given, and what is expected. */
export function configLine(name: string, value: string | undefined, expected: string): string {
  return `  ${name}: ${value === undefined ? "not set" : `got ${shownValue(name, value)}`}; expected ${expected}`;
}

/** Parses the environment; a bad value is one clear line per variable, never a stack trace. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  // An empty variable (`PORT=` in a .env file) means unset, as in most tools, never "" or 0.
  const set = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value.trim() !== "")) as Record<
    string,
    string
  >;
  const result = configSchema.safeParse(set);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "environment");
    return configLine(name, set[name], issue.message);
  });
  throw new ConfigError(`invalid configuration:\n${[...new Set(lines)].join("\n")}`);
}
