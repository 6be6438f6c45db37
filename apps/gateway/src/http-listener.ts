import { createServer, STATUS_CODES, type RequestListener, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { isIPv6, type AddressInfo, type Socket } from "node:net";
import { acceptRequestId } from "@subgate/core";

/** A PEM certificate (chain) and its private key. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export interface HttpListener {
  /** A base URL this machine can reach the server at: the bound address, loopback for a wildcard. */
  url: string;
  /** The address and port actually bound (`0.0.0.0:3000`, `[::1]:8080`), for the log. */
  address: string;
  /** Stops accepting connections; resolves once every request in flight has had its full answer. */
  close(): Promise<void>;
}

/**
 * Serves `app` on `host` (`0.0.0.0`: every IPv4 interface; `::`: every interface) and `port` (0: any
 * free port), with a shutdown that drains. With `tls`, HTTPS, TLS 1.2 and later only: Apple posts to
 * nothing older, and Node's default minimum is not relied on (a flag such as --tls-min-v1.0 lowers it).
 *
 * `server.close()` drops idle keep-alive connections, but a connection whose request is in flight
 * stays open after its answer and holds the close until the client or the keep-alive timeout ends
 * it (a load balancer that keeps sending never does). So answers given once closing has begun
 * carry `Connection: close`: each connection ends with its last answer.
 */
export async function listen(app: RequestListener, port: number, host = "0.0.0.0", tls: TlsFiles | null = null): Promise<HttpListener> {
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, app) : createServer(app);
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
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  const bound = server.address() as AddressInfo;
  const hostPart = (address: string) => (isIPv6(address) ? `[${address}]` : address);
  const reachable = bound.address === "0.0.0.0" ? "127.0.0.1" : bound.address === "::" ? "::1" : bound.address;
  return {
    url: `${tls ? "https" : "http"}://${hostPart(reachable)}:${bound.port}`,
    address: `${hostPart(bound.address)}:${bound.port}`,
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
 * `400` without a body, and the connection is closed, as Node's default handler does. It gets a
 * request id like every other answer (the request's own header cannot be read: it did not parse).
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
  const requestId = acceptRequestId(undefined);
  const body = JSON.stringify({ error: { code, message, request_id: requestId } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
}
