import type { ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";
import type { GatewayClient } from "./http.ts";
import type { Io } from "./output.ts";

/**
 * Every option of every command, for one strict parse that lets options stand before or after the
 * command's words (`subgate --json status --app x`). Which command takes which is checked after.
 */
export const OPTIONS = {
  url: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  app: { type: "string" },
  environment: { type: "string" },
  timeout: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  id: { type: "string" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

export type OptionName = keyof typeof OPTIONS;
export type Values = { [K in OptionName]?: (typeof OPTIONS)[K]["type"] extends "string" ? string : boolean };

/** The options every command takes. */
export const COMMON_OPTIONS: readonly OptionName[] = ["url", "api-key", "json", "help"];

export interface Context {
  values: Values;
  io: Io;
  json: boolean;
  now(): Date;
  /** The gateway named by --url/--api-key or the environment; a missing key is a usage error. */
  client(): GatewayClient;
  /** How to repeat the connection options in a hint (`--url ...` when it is not the default; never the key). */
  connectionHint: string;
}

export interface Command {
  /** The words that name it: "status", "apple replay". */
  name: string;
  summary: string;
  /** The options it takes besides COMMON_OPTIONS. */
  options: readonly OptionName[];
  usage: string;
  /** Resolves with the exit code. */
  run(context: Context): Promise<number>;
}

export const ENVIRONMENTS = ["sandbox", "production"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export function requireOption(command: Command, values: Values, name: "app" | "since" | "id", placeholder: string): string {
  const value = values[name];
  if (value === undefined || value.trim() === "") throw new UsageError(`missing --${name} <${placeholder}>`, command.name);
  return value.trim();
}

export function environmentOption(command: Command, values: Values, fallback: Environment): Environment {
  const value = values.environment ?? fallback;
  if (!(ENVIRONMENTS as readonly string[]).includes(value)) {
    throw new UsageError(`--environment must be sandbox or production, not "${value}"`, command.name);
  }
  return value as Environment;
}

/** The API path of an app; the id is the user's text, so it is encoded rather than trusted. */
export function appPath(appId: string): string {
  return `/v1/apps/${encodeURIComponent(appId)}`;
}

/** The connection lines every usage text ends with. */
export const CONNECTION_HELP = `Connection (every command):
  --url <url>          the gateway's base URL (env SUBGATE_URL; default http://localhost:3000)
  --api-key <key>      the app's API key (sk_...) or the admin token (env SUBGATE_API_KEY;
                       prefer the variable: a flag shows in the process list and shell history)
  --json               print one JSON document on stdout, errors included ({"error": {...}})
  -h, --help           print this help`;

export const EXIT_HELP = `Exit codes: 0 done; 1 failed (an error from the gateway, a gateway that cannot be reached,
a wait that timed out, a failure Apple reports); 2 a wrong command line; 130 stopped with Ctrl-C.`;
