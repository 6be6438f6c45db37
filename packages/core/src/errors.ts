/**
 * The one error type that crosses package boundaries to an HTTP answer. `code` is machine-readable
 * and appears in the JSON error body; `message` is safe to show the caller and never holds a secret.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  malformed_body: 400,
  validation_failed: 422,
  unauthenticated: 401,
  forbidden: 403,
  wrong_app: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  service_unavailable: 503,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** True for errors that mean PostgreSQL or Redis cannot be reached right now (answer 503, not 500). */
export function isUnavailableError(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const { code, name, message } = current as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
    if (name === "DriverAdapterError" || name === "PrismaClientInitializationError") {
      if (typeof message === "string" && /connect|terminat|timeout|ECONN|closed/i.test(message)) return true;
    }
    if (typeof message === "string" && /Connection is closed|ECONNREFUSED|connect ETIMEDOUT|Connection terminated/i.test(message)) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "08000",
  "08001",
  "08003",
  "08006",
  "P1001", // Prisma: can't reach database server
  "P1002",
  "P1017",
  "P2024", // Prisma: timed out fetching a connection from the pool
]);
