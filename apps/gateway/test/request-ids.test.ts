import { connect } from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@subgate/core";
import { signStripePayload, subscriptionEvent } from "@subgate/testing";
import { startGateway, type Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, createStripeApp, createTestEnvironment, type TestEnvironment } from "./harness.ts";

/*
 * Every request gets an id: a well-formed X-Request-Id from the caller is kept, anything else is
 * replaced. It comes back in the X-Request-Id answer header, in error bodies as error.request_id,
 * and on every log line written while the request was served.
 */

const lines: Array<Record<string, unknown>> = [];
let env: TestEnvironment;
let gateway: Gateway;
let app: Awaited<ReturnType<typeof createStripeApp>>;

beforeAll(async () => {
  env = await createTestEnvironment();
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  gateway = await startGateway(env.config, "server", createLogger({ level: "debug" }, capture));
  app = await createStripeApp(gateway);
});

afterAll(async () => {
  await gateway?.close();
  await env?.close();
});

async function call(path: string, init: RequestInit & { requestId?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.requestId !== undefined) headers.set("x-request-id", init.requestId);
  const response = await fetch(`${gateway.url}${path}`, { ...init, headers });
  const text = await response.text();
  return { status: response.status, requestId: response.headers.get("x-request-id"), body: text ? JSON.parse(text) : null };
}

const linesOf = (requestId: string) => lines.filter((line) => line.request_id === requestId);

describe("request ids", () => {
  it("keeps a well-formed X-Request-Id: in the answer header, the error body and every log line of the request", async () => {
    const body = JSON.stringify(subscriptionEvent({ subscriptionId: "sub_request_id" }));
    const path = new URL(app.stripeUrl).pathname;
    const stored = await call(path, {
      method: "POST",
      body,
      headers: { "stripe-signature": signStripePayload(body, "whsec_test_secret_for_subgate") },
      requestId: "trace-0042.a:b",
    });
    expect(stored.status).toBe(200);
    expect(stored.requestId).toBe("trace-0042.a:b");
    expect(linesOf("trace-0042.a:b").map((line) => line.msg)).toEqual(expect.arrayContaining(["notification stored", "request"]));

    const refused = await call(path, { method: "POST", body, headers: { "stripe-signature": "t=1,v1=00" }, requestId: "refused-1" });
    expect(refused.status).toBe(401);
    expect(refused.body.error.request_id).toBe("refused-1");
    expect(linesOf("refused-1").map((line) => line.msg)).toEqual(["ingress request refused", "request"]);

    const missing = await call(`/v1/apps/${app.appId}/nothing-here`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      requestId: "api-404",
    });
    expect(missing.status).toBe(404);
    expect(missing).toMatchObject({ requestId: "api-404", body: { error: { code: "not_found", request_id: "api-404" } } });
    expect(linesOf("api-404").map((line) => line.msg)).toEqual(["request"]);
  });

  it.each([
    ["empty", ""],
    ["with a space", "two words"],
    ["over 128 characters", "x".repeat(129)],
    ["non-ASCII", "régis"],
    ["with a quote", 'a"b'],
  ])("replaces an X-Request-Id %s with one of its own", async (_what, given) => {
    const answer = await call("/healthz", { requestId: given });
    expect(answer.status).toBe(200);
    expect(answer.requestId).toMatch(/^req_[0-9a-f]{24}$/);
  });

  it("gives every answer one, also those with nothing to do with a route: probes, 413s and requests Node's parser refuses", async () => {
    const seen = new Set<string>();
    for (const answer of [
      await call("/healthz"),
      await call("/readyz"),
      await call("/nowhere"),
      await call("/v1/apps", { method: "POST", body: "x".repeat(200 * 1024), headers: { "content-type": "application/json" } }),
    ]) {
      expect(answer.requestId).toMatch(/^req_[0-9a-f]{24}$/);
      if (answer.status >= 400) expect(answer.body.error.request_id).toBe(answer.requestId);
      seen.add(answer.requestId as string);
    }
    expect(seen.size).toBe(4);

    const { hostname, port } = new URL(gateway.url as string);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.end("FOO / HTTP/1.1\r\nhost: x\r\n\r\n"));
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
    });
    const headerId = /x-request-id: (req_[0-9a-f]{24})/.exec(raw)?.[1];
    expect(headerId).toBeDefined();
    expect(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)).error.request_id).toBe(headerId);
  });
});
