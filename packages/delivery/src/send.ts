// One HTTP attempt of one webhook delivery. The caller (worker) records every attempt and decides
// about retries, so send() reports failures as data and never throws for network or HTTP problems.

import { performance } from "node:perf_hooks";
import { parseRetryAfter } from "@subgate/core";
import { Agent } from "undici";
import type { Dispatcher } from "undici";
import { FORBIDDEN_TARGET_CODE, createGuardedConnector } from "./guarded-connector.ts";
import { signWebhook } from "./sign.ts";

export interface WebhookSenderOptions {
  /** Budget for the whole exchange: connect, send, response headers and the (truncated) body. Default 15000. */
  timeoutMs?: number;
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS: allow loopback/private/link-local targets. Default false. */
  allowPrivateTargets?: boolean;
  userAgent?: string;
  /** How much of the response body is kept for the attempt log. Default 4096. */
  maxResponseBytes?: number;
}

export interface SendWebhookInput {
  url: string;
  /** The event's delivery id; the same on every retry. */
  msgId: string;
  /** Exact JSON text to send; it is signed as is. */
  body: string;
  /** Current secret first, then a rotated-out one still in its grace period. */
  secrets: readonly string[];
  /** Signature time; default now. */
  timestamp?: Date;
}

export interface AttemptResult {
  /** True only for a 2xx answer received (with its body, up to the limit) within the timeout. */
  ok: boolean;
  /** The answer's status, also for failures (3xx, 4xx, 5xx, timeout while reading the body); null if none arrived. */
  statusCode: number | null;
  durationMs: number;
  /** At most maxResponseBytes of UTF-8, never split inside a character; null if no answer arrived. */
  responseBody: string | null;
  /**
   * Why no complete answer arrived, e.g. "timeout after 15000 ms", "ECONNREFUSED",
   * "blocked: resolves to a private address". Null when an answer was read: a non-2xx answer is
   * described by statusCode alone.
   */
  error: string | null;
  /** Retry-After of a 429 or 503 answer, in ms from now; null otherwise. */
  retryAfterMs: number | null;
  /** The private-address guard refused the address the URL resolved to: an operator must act. */
  blocked: boolean;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 4096;
export const DEFAULT_USER_AGENT = "subgate-webhooks/0.1";

export class WebhookSender {
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #maxResponseBytes: number;
  // One agent per sender: keep-alive connections to busy endpoints are reused across attempts.
  readonly #agent: Agent;

  constructor(options: WebhookSenderOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new RangeError("timeoutMs must be a positive number");
    }
    if (!Number.isInteger(this.#maxResponseBytes) || this.#maxResponseBytes < 0) {
      throw new RangeError("maxResponseBytes must be a non-negative integer");
    }
    // Connections per origin are not limited: a limit would queue attempts behind a slow endpoint
    // and spend their timeout waiting. Per-endpoint concurrency is the worker's decision.
    this.#agent = new Agent({
      connect: createGuardedConnector({
        allowPrivateTargets: options.allowPrivateTargets ?? false,
        connectTimeoutMs: this.#timeoutMs,
      }),
    });
  }

  /**
   * Sends one signed POST. Resolves with the attempt's outcome for network and HTTP failures alike;
   * throws only for programming errors (no secrets, malformed secret or msgId, see signWebhook).
   */
  async send(input: SendWebhookInput): Promise<AttemptResult> {
    // Sign first, outside the try: a bad secret is a configuration error, not a failed attempt.
    const signatureHeaders = signWebhook({
      msgId: input.msgId,
      body: input.body,
      secrets: input.secrets,
      timestamp: input.timestamp ?? new Date(),
    });

    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);

    let target: URL;
    try {
      target = new URL(input.url);
    } catch {
      return failure(elapsed(), "invalid URL");
    }
    if (target.protocol !== "http:" && target.protocol !== "https:") {
      return failure(elapsed(), `unsupported URL scheme ${target.protocol}`);
    }

    // One budget for the whole exchange; aborting makes undici destroy the socket, so a stalled
    // connection is never returned to the pool.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timeout after ${this.#timeoutMs} ms`));
    }, this.#timeoutMs);

    let statusCode: number | null = null;
    try {
      const response = await this.#agent.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": this.#userAgent,
          ...signatureHeaders,
        },
        body: input.body,
        signal: controller.signal,
        // No redirect handling is configured on this agent: a 3xx comes back as is and fails.
      });
      statusCode = response.statusCode;
      const responseBody = await readTruncated(response.body, this.#maxResponseBytes);
      const ok = statusCode >= 200 && statusCode < 300;
      return {
        ok,
        statusCode,
        durationMs: elapsed(),
        responseBody,
        error: null,
        retryAfterMs: statusCode === 429 || statusCode === 503 ? parseRetryAfter(response.headers["retry-after"]) : null,
        blocked: false,
      };
    } catch (error) {
      const message = timedOut || isTimeoutError(error) ? `timeout after ${this.#timeoutMs} ms` : describeError(error);
      const blocked = errorChain(error).some((candidate) => errorCode(candidate) === FORBIDDEN_TARGET_CODE);
      return { ...failure(elapsed(), message), statusCode, blocked };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes pooled connections; waits for attempts in flight. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}

function failure(durationMs: number, error: string): AttemptResult {
  return { ok: false, statusCode: null, durationMs, responseBody: null, error, retryAfterMs: null, blocked: false };
}

/**
 * Reads at most `limit` bytes and discards the rest. Stopping early destroys the stream, and with it
 * the connection: an endpoint that streams megabytes (or forever) costs us only `limit` bytes.
 */
async function readTruncated(body: Dispatcher.ResponseData["body"], limit: number): Promise<string> {
  // Destroying an unfinished body makes undici emit an "aborted" error; nobody else listens for it
  // once we stop reading, and an unhandled 'error' event would crash the process.
  body.on("error", () => {});
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  if (limit === 0) {
    truncated = true;
    body.destroy();
  } else {
    for await (const chunk of body) {
      const bytes = chunk as Buffer;
      if (size + bytes.length > limit) {
        chunks.push(bytes.subarray(0, limit - size));
        size = limit;
        truncated = true;
        break; // leaves the loop through the iterator's return(), which destroys the body
      }
      chunks.push(bytes);
      size += bytes.length;
    }
  }
  // `stream: true` holds back a multi-byte character cut by the limit instead of emitting U+FFFD.
  const text = new TextDecoder("utf-8").decode(Buffer.concat(chunks, size), { stream: truncated });
  // PostgreSQL text columns refuse U+0000; the attempt log must always be storable.
  return text.replaceAll("\u0000", "\uFFFD");
}

const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

function isTimeoutError(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && TIMEOUT_CODES.has(code);
}

/**
 * A short text for the attempt log: the guard's message for blocked targets, the errno code for
 * system errors ("ECONNREFUSED", "ENOTFOUND"), otherwise undici's code and message.
 */
function describeError(error: unknown): string {
  for (const candidate of errorChain(error)) {
    if (errorCode(candidate) === FORBIDDEN_TARGET_CODE) return (candidate as Error).message;
  }
  for (const candidate of errorChain(error)) {
    const code = errorCode(candidate);
    if (code !== undefined && /^E[A-Z0-9_]+$/.test(code)) return code;
  }
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined ? `${code}: ${message}` : message;
}

/** The error, its causes, and the members of AggregateErrors (happy eyeballs tries several addresses). */
function errorChain(error: unknown): unknown[] {
  const seen: unknown[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.length < 20) {
    const current = queue.shift();
    if (current === undefined || current === null || seen.includes(current)) continue;
    seen.push(current);
    if (current instanceof AggregateError) queue.push(...(current.errors as unknown[]));
    if (current instanceof Error && current.cause !== undefined) queue.push(current.cause);
  }
  return seen;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}
