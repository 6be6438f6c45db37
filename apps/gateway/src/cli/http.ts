import type { z } from "zod";
import { ApiError, CliError, EXIT, InterruptedError } from "./errors.ts";

/** Longer than any one call of the API takes; a gateway that holds a request this long is stuck. */
const REQUEST_TIMEOUT_MS = 30_000;

/** An answer: the JSON as the gateway sent it (what --json prints) and the fields the CLI reads. */
export interface Answer<T> {
  raw: unknown;
  value: T;
}

/**
 * The gateway's HTTP API, as any other client sees it: a bearer token, JSON in and out. Errors come
 * out as CliErrors that say what happened in the reader's terms (no fetch internals).
 */
export class GatewayClient {
  constructor(
    /** The base URL without a trailing slash; PUBLIC_BASE_URL may carry a path, so paths are appended. */
    readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  /** `interrupt`: Ctrl-C while watching, which drops an answer being waited for at once. */
  get<T>(path: string, schema: z.ZodType<T>, interrupt?: AbortSignal): Promise<Answer<T>> {
    return this.call("GET", path, undefined, schema, interrupt);
  }

  post<T>(path: string, body: unknown, schema: z.ZodType<T>): Promise<Answer<T>> {
    return this.call("POST", path, body, schema);
  }

  private async call<T>(method: string, path: string, body: unknown, schema: z.ZodType<T>, interrupt?: AbortSignal): Promise<Answer<T>> {
    const signals = [AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...(interrupt ? [interrupt] : [])];
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.apiKey}`,
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.any(signals),
        redirect: "error",
      });
      text = await response.text();
    } catch (error) {
      if (interrupt?.aborted) throw new InterruptedError("interrupted");
      throw this.unreachable(error);
    }
    const json = parseJson(text);
    if (!response.ok) throw this.failure(response, json);
    if (json === undefined) throw this.unexpected(`${method} ${path} answered ${response.status} with a body that is not JSON`);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
      throw this.unexpected(`${method} ${path} answered ${response.status} with ${where}${issue?.message ?? "an unexpected body"}`);
    }
    return { raw: json, value: parsed.data };
  }

  private unreachable(error: unknown): CliError {
    const reason =
      error instanceof Error && error.name === "TimeoutError" ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : networkReason(error);
    return new CliError(`cannot reach subgate at ${this.baseUrl}: ${reason}`, "unreachable", EXIT.failed);
  }

  private failure(response: Response, json: unknown): CliError {
    const error = apiError(json);
    if (error) return new ApiError(response.status, error);
    // Not subgate's error shape: a proxy in front of it, or another server at that URL.
    return this.unexpected(
      `answered ${response.status} ${response.statusText} without a subgate error body (is ${this.baseUrl} a subgate gateway?)`,
    );
  }

  private unexpected(what: string): CliError {
    return new CliError(`unexpected answer from subgate at ${this.baseUrl}: ${what}`, "unexpected_answer", EXIT.failed);
  }
}

function parseJson(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `{"error": {"code", "message", "request_id"}}` (docs/API.md "Errors"), or null if it is not one. */
function apiError(json: unknown): ({ code: string; message: string } & Record<string, unknown>) | null {
  if (typeof json !== "object" || json === null || !("error" in json)) return null;
  const error = json.error;
  if (typeof error !== "object" || error === null) return null;
  const { code, message } = error as Record<string, unknown>;
  if (typeof code !== "string" || typeof message !== "string") return null;
  return { ...(error as Record<string, unknown>), code, message };
}

/**
 * fetch fails with "fetch failed" and puts the reason in `cause`: an error with a code such as
 * ECONNREFUSED, or an AggregateError (one per address of "localhost") whose own message is empty.
 */
function networkReason(error: unknown): string {
  let cause: unknown = error instanceof Error && error.cause !== undefined ? error.cause : error;
  if (cause instanceof AggregateError && cause.errors.length > 0) cause = cause.errors[0];
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return cause.message || code || cause.name;
  }
  return String(cause);
}
