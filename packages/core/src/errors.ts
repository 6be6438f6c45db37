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
  /** The app's configuration for a store lacks what the call needs (an App Store Server API key). */
  not_configured: 409,
  /** A store's API refused the app's stored credentials: the app's configuration must be fixed. */
  store_credentials_rejected: 422,
  /** A store's API refused the request itself (a range outside its history, say); its reason is in the message. */
  store_request_rejected: 400,
  rate_limited: 429,
  payload_too_large: 413,
  unsupported_media_type: 415,
  service_unavailable: 503,
  /** A store's API is down or answered nonsense; the call can be tried again later. */
  store_unavailable: 503,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Sent as `Retry-After`: when the caller may try again (a rate limit, an outage). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/**
 * True for errors that mean PostgreSQL or Redis cannot take the request now but may later: the
 * server is unreachable, refuses connections, is shutting down or starting up, is read-only, is out
 * of connections, or lost the connection mid-query. Callers answer 503 (the store retries) instead
 * of 500, and workers retry instead of failing the row.
 *
 * Errors arrive in several shapes: pg's own (`code` = SQLSTATE, with `severity`), Prisma's driver
 * adapter (`meta.driverAdapterError.cause` with `originalCode` and a `kind`), Prisma's `P1xxx`
 * codes, Node's errno codes, and a few texts that pg and ioredis throw without any code.
 */
export function isUnavailableError(error: unknown): boolean {
  for (const link of errorChain(error)) {
    const { code, originalCode, kind, message } = link as Record<string, unknown>;
    if (typeof originalCode === "string" && isUnavailableSqlState(originalCode)) return true;
    if (typeof code === "string") {
      if (PRISMA_UNAVAILABLE.has(code) || ERRNO_UNAVAILABLE.has(code)) return true;
      // pg's errors carry the SQLSTATE as `code`, beside a `severity`.
      if ("severity" in link && isUnavailableSqlState(code)) return true;
    }
    if (typeof kind === "string" && ADAPTER_KINDS_UNAVAILABLE.has(kind)) return true;
    if (typeof message === "string" && UNAVAILABLE_TEXT.test(message)) return true;
  }
  return false;
}

/** The error and what it wraps: its causes, and Prisma's driver adapter error with its cause. */
function* errorChain(error: unknown): Generator<object> {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const current = pending.pop();
    if (!current || typeof current !== "object" || seen.has(current)) continue;
    seen.add(current);
    yield current;
    const { cause, meta } = current as { cause?: unknown; meta?: { driverAdapterError?: unknown } };
    pending.push(cause, meta?.driverAdapterError);
  }
}

/** The SQLSTATE of a PostgreSQL error, in any of the shapes above; null for other errors. */
export function sqlStateOf(error: unknown): string | null {
  for (const link of errorChain(error)) {
    const { code, originalCode } = link as Record<string, unknown>;
    if (typeof originalCode === "string") return originalCode;
    if (typeof code === "string" && "severity" in link) return code;
  }
  return null;
}

/**
 * The database refused the data itself: PostgreSQL's class 22 (invalid text, a value out of range)
 * or 54 (an index entry too large), or Prisma's check of the values (an invalid Date). Retrying the
 * same write cannot succeed.
 */
export function isUnstorableDataError(error: unknown): boolean {
  if ((error as { name?: unknown } | null)?.name === "PrismaClientValidationError") return true;
  const code = sqlStateOf(error);
  return code !== null && (code.startsWith("22") || code.startsWith("54"));
}

/** SQLSTATEs in which PostgreSQL cannot take a write now, but may once an operator or time fixes it. */
export function isUnavailableSqlState(code: string): boolean {
  return UNAVAILABLE_SQLSTATE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_SQLSTATES.has(code);
}

const UNAVAILABLE_SQLSTATE_CLASSES = new Set([
  "08", // connection exception: the connection failed or was refused
  "53", // insufficient resources: too many connections, disk full, out of memory
  "57", // operator intervention: admin, crash or other shutdown, cannot connect now, query canceled
  "58", // system error: I/O
]);

const UNAVAILABLE_SQLSTATES = new Set([
  "55000", // object_not_in_prerequisite_state: "database ... is not currently accepting connections"
  "55P03", // lock_not_available
  "25006", // read_only_sql_transaction: a standby after a failover, or a database set read-only
  "3D000", // invalid_catalog_name: the database does not exist (yet, or any more)
  "28000", // invalid_authorization_specification
  "28P01", // invalid_password
  "40001", // serialization_failure: try again
  "40P01", // deadlock_detected: try again
]);

/** Prisma's own codes for the same states. */
const PRISMA_UNAVAILABLE = new Set([
  "P1001", // can't reach the database server
  "P1002", // the server was reached but timed out
  "P1003", // the database does not exist
  "P1008", // operations timed out
  "P1010", // access denied
  "P1011", // TLS connection error
  "P1017", // the server closed the connection
  "P2024", // timed out fetching a connection from the pool
  "P2028", // transaction API error (could not start one in time)
  "P2034", // write conflict or deadlock: retry
  "P2037", // too many database connections
]);

/** Prisma's driver adapter names some states by kind instead of by SQLSTATE. */
const ADAPTER_KINDS_UNAVAILABLE = new Set([
  "DatabaseNotReachable",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
  "DatabaseDoesNotExist",
  "DatabaseAccessDenied",
  "AuthenticationFailed",
  "TransactionWriteConflict",
  "TlsConnectionError",
]);

const ERRNO_UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** What pg and ioredis throw without a code when a connection is lost or cannot be had. */
const UNAVAILABLE_TEXT =
  /Connection terminated|timeout exceeded when trying to connect|is not queryable|Connection is closed|Stream isn't writeable|ECONNREFUSED|connect ETIMEDOUT/i;
