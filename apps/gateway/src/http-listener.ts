import { createServer, STATUS_CODES, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

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
  server.on("clientError", answerUnparsable);
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

/**
 * A request Node's parser refuses (headers over 16 KB, a method it does not know, a broken request
 * line) never reaches Express. It still gets the API's JSON error shape instead of Node's bare
 * `400` without a body, and the connection is closed, as Node's default handler does.
 */
function answerUnparsable(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "headers_too_large", "the request headers are too large"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "request_timeout", "the request took too long to arrive"]
        : [400, "bad_request", "the request is not valid HTTP"];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
