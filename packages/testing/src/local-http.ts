import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/*
 * The plumbing the local stand-ins for the stores' APIs share: a server on 127.0.0.1, an answer
 * written as a store writes it, and a close that does not wait for keep-alive connections.
 */

/** An answer a local store API gives. */
export interface LocalAnswer {
  status: number;
  /** A string is sent as it is; anything else as JSON; absent: no body. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Serves `handle` on 127.0.0.1 (port 0: any free port); a handler that throws answers 500 with its error. */
export async function listenLocally(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  port = 0,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(String(error)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Writes `answer`, JSON bodies with `jsonType` (each store names its own); `afterwards` runs once it is sent. */
export function writeAnswer(res: ServerResponse, answer: LocalAnswer, jsonType: string, afterwards?: () => void): void {
  const text = answer.body === undefined ? "" : typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
  const type = answer.body === undefined ? {} : { "content-type": typeof answer.body === "string" ? "text/plain" : jsonType };
  res.writeHead(answer.status, { ...type, ...answer.headers }).end(text, afterwards);
}

/** Stops listening and drops open connections. */
export function closeLocally(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
