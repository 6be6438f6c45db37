import { createServer, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HttpListener {
  /** Base URL on the loopback interface, with the port actually bound. */
  url: string;
  /** Stops accepting connections; resolves once every request in flight has had its full answer. */
  close(): Promise<void>;
}

/**
 * Serves `app` on every interface (`port` 0: any free port), with a shutdown that drains.
 *
 * `server.close()` drops idle keep-alive connections, but a connection whose request is in flight
 * stays open after its answer and holds the close until the client or the keep-alive timeout ends
 * it (a load balancer that keeps sending never does). So answers given once closing has begun
 * carry `Connection: close`: each connection ends with its last answer.
 */
export async function listen(app: RequestListener, port: number): Promise<HttpListener> {
  const server = createServer(app);
  const answering = new Set<ServerResponse>();
  let closing = false;
  const lastOnConnection = (res: ServerResponse) => {
    if (!res.headersSent) res.setHeader("connection", "close");
  };
  // Prepended so it runs before the app can answer in the same tick.
  server.prependListener("request", (_req, res) => {
    if (closing) lastOnConnection(res);
    answering.add(res);
    res.once("close", () => answering.delete(res));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      closing = true;
      for (const res of answering) lastOnConnection(res);
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
