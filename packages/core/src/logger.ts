import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import { currentRequestId } from "./request-context.ts";

export type { Logger } from "pino";

/**
 * Paths that must never reach a log line, whatever a caller passes in. Secrets are also kept out
 * by construction (they are decrypted only where used); this list is the second line of defence.
 */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers['stripe-signature']",
  "headers.authorization",
  "headers['stripe-signature']",
  "*.secret",
  "*.secrets",
  "*.api_key",
  "*.apiKey",
  "*.webhook_secrets",
  "*.webhookSecrets",
  "*.shared_secret",
  "*.password",
  "*.token",
];

/** Every line written while an HTTP request is served names that request (see request-context.ts). */
function requestIdMixin(): Record<string, string> {
  const requestId = currentRequestId();
  return requestId === undefined ? {} : { request_id: requestId };
}

/** JSON lines to stdout, or to `destination` (tests read what would have been printed). */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    level: "info",
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    mixin: requestIdMixin,
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/** A logger that drops everything: for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
