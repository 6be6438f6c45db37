import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "@subgate/core";

export interface QueueConnectionOptions {
  redisUrl: string;
  /** Key prefix of every queue (BullMQ `prefix`); tests use one per test. */
  prefix: string;
}

/**
 * Producers sit in HTTP handlers: they must fail fast when Redis is away (the row is already in
 * PostgreSQL and the sweeper will enqueue it), never queue commands in memory and hang a request.
 */
export function createProducerConnection(redisUrl: string): Redis {
  return new Redis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    lazyConnect: false,
  } satisfies RedisOptions);
}

/** Workers block on Redis; BullMQ requires `maxRetriesPerRequest: null` for them. */
export function createWorkerConnection(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null } satisfies RedisOptions);
}

/**
 * Says in the log when Redis cannot be reached (at start too), once per outage rather than at every
 * reconnect attempt, and when it is back; `lastError` keeps the cause for readiness answers.
 * Without Redis, notifications are still stored; they are processed once it is back.
 */
export function watchRedis(redis: Redis, logger: Logger | undefined, role: string): { lastError: () => string | null } {
  let lastError: string | null = null;
  redis.on("error", (error: Error) => {
    const first = lastError === null;
    lastError = error.message || (error as NodeJS.ErrnoException).code || "connection error";
    if (first)
      logger?.warn({ connection: role, err: lastError }, "redis is unreachable; retrying until it answers (stored notifications wait)");
  });
  redis.on("ready", () => {
    if (lastError !== null) logger?.info({ connection: role }, "redis is reachable again");
    lastError = null;
  });
  return { lastError: () => lastError };
}
