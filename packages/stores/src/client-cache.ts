import { createHash } from "node:crypto";

/**
 * Store API clients kept for reuse, one per set of credentials (and base URL): each holds its signed
 * token until shortly before it expires, so calls do not sign a new one each. Credentials are kept
 * only inside the clients; the cache is keyed by their hash. Bounded: the oldest goes first (a Map
 * iterates in insertion order).
 */
export class ClientCache<Client> {
  readonly #clients = new Map<string, Client>();

  constructor(private readonly max = 256) {}

  /** The client for `identity` (anything JSON can hold), made by `create` the first time. */
  get(identity: unknown, create: () => Client): Client {
    const key = createHash("sha256").update(JSON.stringify(identity)).digest("base64url");
    let client = this.#clients.get(key);
    if (!client) {
      client = create();
      if (this.#clients.size >= this.max) this.#clients.delete(this.#clients.keys().next().value as string);
      this.#clients.set(key, client);
    }
    return client;
  }
}
