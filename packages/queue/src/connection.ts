import { Redis, type RedisOptions } from "ioredis";

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
