import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, createStripeApp, createTestEnvironment, type TestEnvironment } from "./harness.ts";

/*
 * A body over the limit is answered 413 at once: a declared Content-Length over it before any of
 * the body is read (the client needs to send none of it), a chunked body as soon as it passes the
 * limit (the client never has to finish it). Ingress URLs take up to 1 MB, the API 100 KB.
 * The answers here arrive while the client still holds the rest of the body: a server that read
 * to the end first would never answer, and the test would time out.
 */

let env: TestEnvironment;
let gateway: Gateway;
let app: Awaited<ReturnType<typeof createStripeApp>>;

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await env.start("server");
  app = await createStripeApp(gateway);
});

afterAll(async () => {
  await env?.close();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: any;
  /** The server closed the connection after its answer. */
  closed: Promise<void>;
}

/**
 * Sends a request head and then `chunks` (written as they are), never finishing the body, and
 * resolves with the answer as soon as it is complete.
 */
function sendUnfinished(path: string, headers: Record<string, string>, chunks: Buffer[] = []): Promise<RawAnswer> {
  const { hostname, port } = new URL(gateway.url as string);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let closedResolve!: () => void;
    const closed = new Promise<void>((done) => (closedResolve = done));
    socket.on("close", () => closedResolve());
    socket.on("error", () => closedResolve());
    let received = Buffer.alloc(0);
    socket.on("data", (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const text = received.toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return;
      const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
      const head = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]),
      );
      const length = Number(head["content-length"] ?? "0");
      const body = received.subarray(Buffer.byteLength(text.slice(0, end + 4)));
      if (body.length < length) return;
      resolve({
        status: Number(statusLine.split(" ")[1]),
        headers: head,
        body: JSON.parse(body.subarray(0, length).toString("utf8")),
        closed,
      });
    });
    socket.on("connect", () => {
      const head = Object.entries({ host: "subgate.test", ...headers })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join("");
      socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
      for (const chunk of chunks) socket.write(chunk);
    });
    setTimeout(() => reject(new Error(`no answer to ${path} while its body was unfinished`)), 10_000).unref();
  });
}

function chunked(totalBytes: number, chunkBytes = 64 * 1024): Buffer[] {
  const chunks: Buffer[] = [];
  for (let sent = 0; sent < totalBytes; sent += chunkBytes) {
    chunks.push(Buffer.concat([Buffer.from(`${chunkBytes.toString(16)}\r\n`), Buffer.alloc(chunkBytes, "x"), Buffer.from("\r\n")]));
  }
  return chunks; // no terminating 0-length chunk: the body never ends
}

const ingressPath = () => new URL(app.stripeUrl).pathname;

function expectTooLarge(answer: RawAnswer, limit: number): void {
  expect(answer.status).toBe(413);
  expect(answer.body.error).toMatchObject({ code: "payload_too_large", message: `the body is over the ${limit}-byte limit` });
  expect(answer.headers.connection).toBe("close");
}

describe("a body over the limit", () => {
  it.each([
    ["5 GB", "5000000000"],
    ["200 MB", String(200 * 1024 * 1024)],
  ])("declared as %s at an ingress URL is refused 413 before any of it is sent, and charged to the app", async (_what, length) => {
    const answer = await sendUnfinished(ingressPath(), {
      "content-type": "application/json",
      "content-length": length,
      "stripe-signature": "t=1,v1=00",
    });
    expectTooLarge(answer, 1024 * 1024);
    await answer.closed;
    const status = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    expect(status.body.stores.find((entry: any) => entry.store === "stripe").last_rejection_reason).toBe(
      "the body is over the 1048576-byte limit",
    );
  });

  it("sent chunked to an ingress URL is cut off at 1 MB and refused 413, though the body never ends", async () => {
    const answer = await sendUnfinished(
      ingressPath(),
      { "content-type": "application/json", "transfer-encoding": "chunked", "stripe-signature": "t=1,v1=00" },
      chunked(1024 * 1024 + 128 * 1024),
    );
    expectTooLarge(answer, 1024 * 1024);
    await answer.closed;
  });

  it.each(["/v1/apps", `/v1/apps/{app}`, "/v1/apps/{app}/webhooks"])(
    "declared as 5 GB on the API (%s) is refused 413 before any of it is sent, before authentication",
    async (route) => {
      const path = route.replace("{app}", app.appId);
      const answer = await sendUnfinished(path, {
        "content-type": "application/json",
        "content-length": "5000000000",
        authorization: `Bearer ${ADMIN_TOKEN}`,
      });
      expectTooLarge(answer, 100 * 1024);
      const anonymous = await sendUnfinished(path, { "content-type": "application/json", "content-length": "5000000000" });
      expectTooLarge(anonymous, 100 * 1024);
    },
  );

  it("sent chunked to the API is cut off at 100 KB and refused 413", async () => {
    const answer = await sendUnfinished(
      "/v1/apps",
      { "content-type": "application/json", "transfer-encoding": "chunked", authorization: `Bearer ${ADMIN_TOKEN}` },
      chunked(200 * 1024, 16 * 1024),
    );
    expectTooLarge(answer, 100 * 1024);
    await answer.closed;
  });

  it("leaves the gateway answering: a normal request after them works", async () => {
    expect((await app.api.get(`/v1/apps/${app.appId}`)).status).toBe(200);
  });
});
