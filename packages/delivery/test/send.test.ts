import { once } from "node:events";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { WebhookSender, generateWebhookSecret, parseRetryAfter } from "../src/index.ts";
import type { WebhookSenderOptions } from "../src/index.ts";

interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

interface TestServer {
  url: string;
  requests: ReceivedRequest[];
  /** Every TCP connection accepted, also those that never sent a full request. */
  sockets: Socket[];
}

const servers: Server[] = [];
const senders: WebhookSender[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((sender) => sender.close()));
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const requests: ReceivedRequest[] = [];
  const sockets: Socket[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string") headers[name] = value;
      }
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers, body: Buffer.concat(chunks).toString("utf8") });
      handler(req, res);
    });
  });
  server.on("connection", (socket: Socket) => sockets.push(socket));
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, sockets };
}

function makeSender(options: WebhookSenderOptions = {}): WebhookSender {
  const sender = new WebhookSender({ allowPrivateTargets: true, ...options });
  senders.push(sender);
  return sender;
}

const body = JSON.stringify({ api_version: "1.0", event: { id: "evt_1", type: "RENEWAL", app_id: "app_1" } });

describe("WebhookSender.send", () => {
  it("POSTs the signed body and reports a 2xx as ok", async () => {
    const server = await startServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("thanks"));
    const secret = generateWebhookSecret();
    const sender = makeSender({ userAgent: "subgate-test/1" });

    const result = await sender.send({ url: `${server.url}/hooks/subgate?x=1`, msgId: "msg_1", body, secrets: [secret] });

    expect(result).toMatchObject({ ok: true, statusCode: 200, responseBody: "thanks", error: null, retryAfterMs: null });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(server.requests).toHaveLength(1);
    const received = server.requests[0]!;
    expect(received.method).toBe("POST");
    expect(received.url).toBe("/hooks/subgate?x=1");
    expect(received.headers["content-type"]).toBe("application/json");
    expect(received.headers["user-agent"]).toBe("subgate-test/1");
    expect(received.headers["webhook-id"]).toBe("msg_1");
    expect(received.body).toBe(body);
    // What a consumer does with the standardwebhooks package:
    expect(new Webhook(secret).verify(received.body, received.headers)).toEqual(JSON.parse(body));
  });

  it("signs with both secrets during rotation, so a receiver holding either verifies", async () => {
    const server = await startServer((_req, res) => res.writeHead(204).end());
    const current = generateWebhookSecret();
    const previous = generateWebhookSecret();

    const result = await makeSender().send({ url: server.url, msgId: "msg_2", body, secrets: [current, previous] });

    expect(result).toMatchObject({ ok: true, statusCode: 204, responseBody: "" });
    const received = server.requests[0]!;
    expect(() => new Webhook(current).verify(received.body, received.headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(received.body, received.headers)).not.toThrow();
    expect(() => new Webhook(generateWebhookSecret()).verify(received.body, received.headers)).toThrow();
  });

  it("reports a 500 with its status and a truncated body", async () => {
    const bigBody = "x".repeat(10 * 1024);
    const server = await startServer((_req, res) => res.writeHead(500, { "content-type": "text/plain" }).end(bigBody));
    const sender = makeSender();

    const result = await sender.send({ url: server.url, msgId: "msg_3", body, secrets: [generateWebhookSecret()] });

    expect(result.ok).toBe(false);
    expect(result.statusCode).toBe(500);
    expect(result.error).toBeNull();
    expect(result.retryAfterMs).toBeNull();
    expect(Buffer.byteLength(result.responseBody ?? "")).toBeLessThanOrEqual(4096);
    expect(result.responseBody).toBe(bigBody.slice(0, 4096));

    // The cut-off connection was discarded, not reused half-read: the next attempt still works.
    const again = await sender.send({ url: server.url, msgId: "msg_3", body, secrets: [generateWebhookSecret()] });
    expect(again.statusCode).toBe(500);
    expect(server.requests).toHaveLength(2);
  });

  it("truncates without splitting a UTF-8 character", async () => {
    const server = await startServer((_req, res) => res.writeHead(400).end("é".repeat(100))); // 2 bytes each
    const result = await makeSender({ maxResponseBytes: 11 }).send({
      url: server.url,
      msgId: "msg_4",
      body,
      secrets: [generateWebhookSecret()],
    });
    expect(result.statusCode).toBe(400);
    expect(result.responseBody).toBe("é".repeat(5));
  });

  it("keeps no body when maxResponseBytes is 0", async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end("ignored"));
    const result = await makeSender({ maxResponseBytes: 0 }).send({
      url: server.url,
      msgId: "msg_5",
      body,
      secrets: [generateWebhookSecret()],
    });
    expect(result).toMatchObject({ ok: true, statusCode: 200, responseBody: "" });
  });

  it("does not follow redirects: a 302 is a failure", async () => {
    const target = await startServer((_req, res) => res.writeHead(200).end("redirected"));
    const server = await startServer((_req, res) => res.writeHead(302, { location: `${target.url}/elsewhere` }).end());

    const result = await makeSender().send({ url: server.url, msgId: "msg_6", body, secrets: [generateWebhookSecret()] });

    expect(result.ok).toBe(false);
    expect(result.statusCode).toBe(302);
    expect(server.requests).toHaveLength(1);
    expect(target.requests).toHaveLength(0);
    expect(target.sockets).toHaveLength(0);
  });

  it("gives up on a server that never answers and closes the connection", async () => {
    const server = await startServer(() => {
      /* never respond */
    });

    const result = await makeSender({ timeoutMs: 300 }).send({ url: server.url, msgId: "msg_7", body, secrets: [generateWebhookSecret()] });

    expect(result.ok).toBe(false);
    expect(result.statusCode).toBeNull();
    expect(result.responseBody).toBeNull();
    expect(result.error).toBe("timeout after 300 ms");
    // The socket was destroyed on our side, so the server sees it close.
    const socket = server.sockets[0]!;
    if (!socket.destroyed) await once(socket, "close");
    expect(socket.destroyed).toBe(true);
  });

  it("counts reading the response body against the timeout", async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial"); // then stall
    });

    const result = await makeSender({ timeoutMs: 300 }).send({ url: server.url, msgId: "msg_8", body, secrets: [generateWebhookSecret()] });

    expect(result.ok).toBe(false);
    expect(result.statusCode).toBe(200);
    expect(result.error).toMatch(/timeout/);
  });

  it("reports a refused connection", async () => {
    const server = await startServer(() => {});
    const closed = servers.pop()!;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const result = await makeSender().send({ url: server.url, msgId: "msg_9", body, secrets: [generateWebhookSecret()] });

    expect(result).toMatchObject({ ok: false, statusCode: null, responseBody: null, error: "ECONNREFUSED" });
  });

  it("blocks a loopback IP literal without connecting unless private targets are allowed", async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end());

    const result = await makeSender({ allowPrivateTargets: false }).send({
      url: server.url,
      msgId: "msg_10",
      body,
      secrets: [generateWebhookSecret()],
    });

    expect(result.ok).toBe(false);
    expect(result.statusCode).toBeNull();
    expect(result.error).toMatch(/^blocked: /);
    expect(server.sockets).toHaveLength(0);
    expect(server.requests).toHaveLength(0);
  });

  it("blocks a host name that resolves to loopback at connect time", async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end());
    const url = server.url.replace("127.0.0.1", "localhost");

    const result = await makeSender({ allowPrivateTargets: false }).send({
      url,
      msgId: "msg_11",
      body,
      secrets: [generateWebhookSecret()],
    });

    expect(result.error).toBe("blocked: resolves to a private address");
    expect(result.blocked).toBe(true);
    expect(server.sockets).toHaveLength(0);
    // The same URL is fine with private targets allowed (proves the URL itself works).
    const allowed = await makeSender().send({ url, msgId: "msg_11", body, secrets: [generateWebhookSecret()] });
    expect(allowed.ok).toBe(true);
  });

  // Both codes that carry Retry-After (RFC 9110 §10.2.3): honouring it for 429 only survived every test.
  it.each([429, 503])("reports Retry-After of a %i in milliseconds", async (status) => {
    const server = await startServer((_req, res) => res.writeHead(status, { "retry-after": "7" }).end("slow down"));
    const result = await makeSender().send({ url: server.url, msgId: "msg_12", body, secrets: [generateWebhookSecret()] });
    expect(result).toMatchObject({ ok: false, statusCode: status, retryAfterMs: 7000, responseBody: "slow down" });
  });

  it("ignores Retry-After on other statuses", async () => {
    const server = await startServer((_req, res) => res.writeHead(500, { "retry-after": "7" }).end());
    const result = await makeSender().send({ url: server.url, msgId: "msg_13", body, secrets: [generateWebhookSecret()] });
    expect(result.retryAfterMs).toBeNull();
  });

  it("reuses one keep-alive connection across attempts", async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end("ok"));
    const sender = makeSender();
    for (const msgId of ["msg_14a", "msg_14b", "msg_14c"]) {
      expect((await sender.send({ url: server.url, msgId, body, secrets: [generateWebhookSecret()] })).ok).toBe(true);
      // undici marks the connection idle just after the body ends; a send in that same tick would
      // open a second connection (the pool is unbounded on purpose, see send.ts).
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(server.requests).toHaveLength(3);
    expect(server.sockets).toHaveLength(1);
  });

  it("returns bad URLs as failed attempts instead of throwing", async () => {
    const sender = makeSender();
    const secrets = [generateWebhookSecret()];
    expect(await sender.send({ url: "not a url", msgId: "msg_15", body, secrets })).toMatchObject({ ok: false, error: "invalid URL" });
    expect(await sender.send({ url: "ftp://127.0.0.1/", msgId: "msg_15", body, secrets })).toMatchObject({
      ok: false,
      error: "unsupported URL scheme ftp:",
    });
  });

  it("throws for programming errors such as missing secrets", async () => {
    await expect(makeSender().send({ url: "http://127.0.0.1:1/", msgId: "msg_16", body, secrets: [] })).rejects.toThrow(/secret/);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  it("parses delta-seconds and HTTP dates", () => {
    expect(parseRetryAfter("7", now)).toBe(7000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:01:30 GMT", now)).toBe(90_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(["12", "30"], now)).toBe(12_000);
  });
  it("returns null for missing or garbage values", () => {
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter("", now)).toBeNull();
    expect(parseRetryAfter("-5", now)).toBeNull();
    expect(parseRetryAfter("soon", now)).toBeNull();
  });
});
