import "reflect-metadata";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually } from "@subgate/testing";
import {
  type AppleNotificationInput,
  type AppleTestChain,
  appleNotificationPayload,
  createAppleTestChain,
  LocalOcspResponder,
  signAppleJws,
  signAppleNotification,
  TEST_APP_APPLE_ID,
  TEST_BUNDLE_ID,
} from "@subgate/testing/apple";
import type { GatewayConfig } from "../src/config.ts";
import type { Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, type Answer, apiClient, createTestEnvironment, postToIngress, type TestEnvironment } from "./harness.ts";

/*
 * What the App Store ingress refuses, with which status, and what the app's owner sees of it: the
 * reason on the notification status, nothing in the inbox. Also the two switches that change what
 * is accepted: unsigned local payloads, and online (OCSP) checks.
 */

const trusted = await createAppleTestChain();
const untrusted = await createAppleTestChain();

const environments: TestEnvironment[] = [];

async function startGateway(overrides: Partial<GatewayConfig>): Promise<Gateway> {
  const env = await createTestEnvironment(overrides);
  environments.push(env);
  return env.start("all");
}

afterAll(async () => {
  for (const env of environments.splice(0)) await env.close();
});

type AppleApp = Awaited<ReturnType<typeof createAppleApp>>;

async function createAppleApp(gateway: Gateway, apple: Record<string, unknown> = { bundle_id: TEST_BUNDLE_ID }) {
  const created = await apiClient(gateway.url as string, ADMIN_TOKEN).post("/v1/apps", { name: "Apple refusals", apple });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const appId = created.body.id as string;
  return {
    gateway,
    appId,
    api: apiClient(gateway.url as string, created.body.api_key as string),
    appleUrl: created.body.ingress.apple.url as string,
  };
}

function post(app: AppleApp, body: string): Promise<Answer> {
  return postToIngress(app.gateway, app.appleUrl, body);
}

interface Refusals {
  last_rejected_at: string | null;
  last_rejection_reason: string | null;
  rejection_count: number;
}

/** The app_store entries' refusal fields, which are the same in both environments. */
async function refusals(app: AppleApp): Promise<Refusals> {
  const status = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
  expect(status.status).toBe(200);
  const entries = status.body.stores.filter((entry: any) => entry.store === "app_store");
  expect(entries.map((entry: any) => entry.environment)).toEqual(["sandbox", "production"]);
  for (const entry of entries) {
    expect(entry.last_rejection_reason).toBe(entries[0].last_rejection_reason);
    expect(entry.rejection_count).toBe(entries[0].rejection_count);
  }
  const { last_rejected_at, last_rejection_reason, rejection_count } = entries[0];
  return { last_rejected_at, last_rejection_reason, rejection_count };
}

async function inbox(app: AppleApp): Promise<any[]> {
  const listed = await app.api.get(`/v1/apps/${app.appId}/notifications`);
  expect(listed.status).toBe(200);
  return listed.body.data;
}

/** Posts `body`: the answer is the refusal, it is recorded with `reason`, and nothing was stored. */
async function expectRefused(app: AppleApp, body: string, status: number, code: string, reason: RegExp): Promise<void> {
  const before = await refusals(app);
  const answer = await post(app, body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.error).toMatchObject({ code, message: expect.stringMatching(reason) });
  const now = await refusals(app);
  expect(now.rejection_count).toBe(before.rejection_count + 1);
  expect(now.last_rejected_at).not.toBeNull();
  expect(now.last_rejection_reason).toMatch(reason);
  expect(now.last_rejection_reason).toBe(answer.body.error.message);
  expect(await inbox(app)).toEqual([]);
  expect(await app.gateway.db.notification.count({ where: { appId: app.appId } })).toBe(0);
}

function sandboxPurchase(input: Partial<AppleNotificationInput> = {}): AppleNotificationInput {
  return { notificationType: "SUBSCRIBED", subtype: "INITIAL_BUY", signedDate: Date.now() - 60_000, ...input };
}

describe("App Store ingress refusals", () => {
  let gateway: Gateway;
  let app: AppleApp;

  beforeAll(async () => {
    gateway = await startGateway({ appleTrustedRoots: [trusted.rootDer] });
  });

  // One app per refusal, so each starts from no refusal and an empty inbox.
  beforeEach(async () => {
    app = await createAppleApp(gateway);
    expect(await refusals(app)).toEqual({ last_rejected_at: null, last_rejection_reason: null, rejection_count: 0 });
  });

  it("accepts a sandbox notification signed by the trusted chain (the control for the refusals below)", async () => {
    const answer = await post(app, signAppleNotification(trusted, sandboxPurchase()).body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.status).toBe("stored");
    expect(await inbox(app)).toHaveLength(1);
    expect((await refusals(app)).rejection_count).toBe(0);
  });

  it("refuses a chain that ends at a root it does not trust (401)", async () => {
    await expectRefused(
      app,
      signAppleNotification(untrusted, sandboxPurchase()).body,
      401,
      "unauthenticated",
      /^signedPayload: the chain does not end at a trusted root/,
    );
  });

  it("refuses a notification for another bundle id (403)", async () => {
    await expectRefused(
      app,
      signAppleNotification(trusted, sandboxPurchase({ bundleId: "com.example.someone-else" })).body,
      403,
      "wrong_app",
      /bundle id "com\.example\.someone-else"/,
    );
  });

  it("refuses a production notification while the app has no app_apple_id (403)", async () => {
    await expectRefused(
      app,
      signAppleNotification(trusted, sandboxPurchase({ environment: "Production" })).body,
      403,
      "wrong_app",
      /app_apple_id/,
    );
  });

  it("refuses a production notification for another Apple app id (403), and accepts the right one", async () => {
    const production = await createAppleApp(gateway, { bundle_id: TEST_BUNDLE_ID, app_apple_id: TEST_APP_APPLE_ID });
    const wrong = signAppleNotification(trusted, sandboxPurchase({ environment: "Production", appAppleId: 987654321 })).body;
    await expectRefused(production, wrong, 403, "wrong_app", /app id 987654321/);

    const right = await post(production, signAppleNotification(trusted, sandboxPurchase({ environment: "Production" })).body);
    expect(right.status, JSON.stringify(right.body)).toBe(200);
    const [row] = await inbox(production);
    expect(row).toMatchObject({ id: right.body.notification_id, environment: "production" });
  });

  for (const variant of XCODE_VARIANTS) {
    it(`refuses an Xcode payload (${variant}) by default (401)`, async () => {
      const reason = /unsigned Xcode payloads are refused.*APPLE_ALLOW_LOCAL_ENVIRONMENTS/;
      await expectRefused(app, xcodeBody(variant), 401, "unauthenticated", reason);
    });
  }

  it("refuses a valid notification whose signedTransactionInfo is signed by an untrusted chain (401)", async () => {
    const { payload } = appleNotificationPayload(sandboxPurchase(), (nested) =>
      signAppleJws(nested, "transactionId" in nested ? untrusted : trusted),
    );
    await expectRefused(
      app,
      JSON.stringify({ signedPayload: signAppleJws(payload, trusted) }),
      401,
      "unauthenticated",
      /^signedTransactionInfo: the chain does not end at a trusted root/,
    );
  });

  it("refuses a body that is not JSON (400)", async () => {
    await expectRefused(app, "signedPayload=eyJhbGciOiJFUzI1NiJ9", 400, "malformed_body", /not UTF-8 JSON/);
  });

  it('refuses {"signedPayload": 5} and {} (400)', async () => {
    for (const body of ['{"signedPayload":5}', "{}"]) {
      await expectRefused(app, body, 400, "malformed_body", /neither a V2 notification.*nor a V1 one/);
    }
  });
});

const XCODE_VARIANTS = ["alg none, no signature", "ES256 by a chain nobody trusts"] as const;

/** An Xcode (StoreKit testing) purchase, which Apple's tools do not sign with Apple's chain. */
function xcodeBody(variant: (typeof XCODE_VARIANTS)[number]): string {
  const sign =
    variant === "alg none, no signature"
      ? (payload: object) => signAppleJws(payload, trusted, { alg: "none", header: { x5c: undefined } })
      : (payload: object) => signAppleJws(payload, untrusted);
  const { payload } = appleNotificationPayload(sandboxPurchase({ environment: "Xcode" }), sign);
  return JSON.stringify({ signedPayload: sign(payload) });
}

describe("App Store ingress with APPLE_ALLOW_LOCAL_ENVIRONMENTS", () => {
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await startGateway({ appleTrustedRoots: [trusted.rootDer], appleAllowLocalEnvironments: true });
  });

  for (const variant of XCODE_VARIANTS) {
    it(`accepts an Xcode payload (${variant}), files it under sandbox and processes it`, async () => {
      const app = await createAppleApp(gateway);
      const answer = await post(app, xcodeBody(variant));
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.status).toBe("stored");
      const row = await eventually(
        async () => (await inbox(app)).find((entry) => entry.id === answer.body.notification_id && entry.state !== "pending"),
        15_000,
        "the Xcode notification processed",
      );
      // Untracked (nobody tracks its subscription), not failed: the worker could read it back.
      expect(row).toMatchObject({ environment: "sandbox", state: "untracked", last_error: null });
      const stored = await gateway.db.notification.findUniqueOrThrow({ where: { id: answer.body.notification_id } });
      expect(stored.verification).toMatchObject({ scheme: "apple-unsigned-local", apple_environment: "Xcode" });
      expect((await refusals(app)).rejection_count).toBe(0);
    });
  }
});

describe("App Store ingress with online (OCSP) checks", () => {
  const responder = new LocalOcspResponder();
  let gateway: Gateway;
  let base: AppleTestChain;

  /** A new chain under the trusted root: a chain the verifier has not cached yet. */
  async function freshChain(): Promise<AppleTestChain> {
    const chain = await createAppleTestChain({ underRootOf: base });
    responder.addChain(chain);
    return chain;
  }

  beforeAll(async () => {
    await responder.start();
    base = await createAppleTestChain();
    gateway = await startGateway({ appleTrustedRoots: [base.rootDer], appleOnlineChecks: true, appleOcspUrl: responder.url });
  });

  afterAll(async () => {
    await responder.close();
  });

  it("accepts a chain the responder says is good (200), after asking about both certificates", async () => {
    const app = await createAppleApp(gateway);
    const chain = await freshChain();
    const asked = responder.requests.length;
    const answer = await post(app, signAppleNotification(chain, sandboxPurchase()).body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const serials = responder.requests.slice(asked).flatMap((request) => request.serialNumbers);
    expect(serials.map((serial) => serial.replace(/^00/, "")).sort()).toEqual(
      [chain.leaf.x509.serialNumber, chain.intermediate.x509.serialNumber].map((serial) => serial.toLowerCase().replace(/^00/, "")).sort(),
    );
    const [row] = await gateway.db.notification.findMany({ where: { appId: app.appId } });
    expect(row?.verification).toMatchObject({ scheme: "apple-jws", ocsp: true, effective_date: "now" });
  });

  it("refuses a chain whose leaf the responder says is revoked (401)", async () => {
    const app = await createAppleApp(gateway);
    const chain = await freshChain();
    responder.setStatus(chain.leaf, "revoked");
    await expectRefused(
      app,
      signAppleNotification(chain, sandboxPurchase()).body,
      401,
      "unauthenticated",
      /OCSP \(leaf\): the certificate is revoked/,
    );
  });

  it("answers 503 and stores nothing while the responder answers 500 or is gone, and records no refusal", async () => {
    const app = await createAppleApp(gateway);
    const expectUnavailable = async (chain: AppleTestChain) => {
      const path = new URL(app.appleUrl).pathname;
      const response = await fetch(`${gateway.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: signAppleNotification(chain, sandboxPurchase()).body,
      });
      const body = (await response.json()) as any;
      expect(response.status, JSON.stringify(body)).toBe(503);
      expect(body.error.code).toBe("service_unavailable");
      expect(body.error.message).toMatch(/OCSP responder unreachable/);
      expect(response.headers.get("retry-after")).toBe("5");
      expect(await inbox(app)).toEqual([]);
      expect(await refusals(app)).toEqual({ last_rejected_at: null, last_rejection_reason: null, rejection_count: 0 });
    };

    responder.httpStatus = 500;
    const answered500 = responder.requests.length;
    await expectUnavailable(await freshChain());
    expect(responder.requests.length).toBeGreaterThan(answered500);
    responder.httpStatus = null;

    const chain = await freshChain();
    await responder.close();
    await expectUnavailable(chain);
  });
});
