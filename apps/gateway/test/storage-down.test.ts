import { randomBytes } from "node:crypto";
import { silentLogger } from "@subgate/core";
import { signStripePayload, subscriptionEvent } from "@subgate/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, STRIPE_SECRET, createTestEnvironment, type TestEnvironment } from "./harness.ts";

/**
 * PostgreSQL cannot be reached: a store must get 503 (and retry later), never 200 for something not
 * stored and never a 500; readiness says which dependency is missing.
 */

let env: TestEnvironment;
let gateway: Gateway;

beforeAll(async () => {
  env = await createTestEnvironment();
  // Nothing listens on port 1; Redis (and its queue prefix) are this environment's own.
  gateway = await startGateway({ ...env.config, databaseUrl: "postgresql://postgres@127.0.0.1:1/nothing" }, "server", silentLogger());
});

afterAll(async () => {
  await gateway?.close();
  await env?.close();
});

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${gateway.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body: JSON.parse(text) };
}

function expectUnavailable(answer: { status: number; retryAfter: string | null; body: any }): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(503);
  expect(answer.body).toEqual({ error: { code: "service_unavailable", message: expect.any(String) } });
  expect(answer.retryAfter).not.toBeNull();
  expect(Number(answer.retryAfter)).toBeGreaterThan(0);
  const text = JSON.stringify(answer.body);
  expect(text).not.toContain("    at ");
  expect(text).not.toContain("127.0.0.1:1");
  expect(text).not.toContain(STRIPE_SECRET);
}

describe("with PostgreSQL unreachable", () => {
  it("answers an ingress request 503 service_unavailable with Retry-After", async () => {
    const body = JSON.stringify(subscriptionEvent({ subscriptionId: "sub_storage_down" }));
    const token = randomBytes(32).toString("base64url");
    const answer = await post(`/ingress/stripe/${token}`, body, { "stripe-signature": signStripePayload(body, STRIPE_SECRET) });
    expectUnavailable(answer);
  });

  it("answers 503 for every store's ingress, and again on a second try", async () => {
    for (const attempt of [1, 2]) {
      for (const segment of ["apple", "google", "stripe"]) {
        const answer = await post(`/ingress/${segment}/${randomBytes(32).toString("base64url")}`, "{}");
        expect(answer.status, `attempt ${attempt}, ${segment}`).toBe(503);
        expectUnavailable(answer);
      }
    }
  });

  it("answers API calls 503 rather than 401 or 500", async () => {
    const response = await fetch(`${gateway.url}/v1/apps/app_whatever`, { headers: { authorization: "Bearer sk_some_app_key" } });
    const body: unknown = await response.json();
    expectUnavailable({ status: response.status, retryAfter: response.headers.get("retry-after"), body });
  });

  it("answers /readyz 503 naming postgres, with redis ok; /healthz stays 200", async () => {
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: Record<string, string> };
    expect(body.checks.postgres).not.toBe("ok");
    expect(body.checks.postgres).toMatch(/unavailable/);
    expect(body.checks.redis).toBe("ok");
    expect(JSON.stringify(body)).toContain("postgres");

    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it("answers the admin's app lookup 503, and a token that cannot be one 404 (no lookup needed)", async () => {
    // Admin token requests need no database for authentication: the app lookup is what fails.
    const response = await fetch(`${gateway.url}/v1/apps/app_whatever`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.status).toBe(503);
    const answer = await post("/ingress/stripe/short", "{}");
    expect(answer.status).toBe(404);
  });
});
