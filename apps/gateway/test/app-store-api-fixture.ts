import "reflect-metadata";
import { afterAll, expect } from "vitest";
import {
  type AppleJwsSigner,
  type AppStoreApiTestKey,
  createAppleTestChain,
  createAppStoreApiKey,
  type FakeHistoryEntry,
  signAppleNotification,
  startFakeAppStoreServerApi,
  TEST_BUNDLE_ID,
} from "@subgate/testing/apple";
import type { GatewayConfig } from "../src/config.ts";
import { ADMIN_TOKEN, apiClient, type GatewayUrl } from "./harness.ts";

/**
 * A local sandbox App Store Server API that knows one key (`key`) and not another (`strangerKey`),
 * a test chain the gateway trusts for what it signs, and the gateway settings that point at both.
 * Production points nowhere: nothing listens on port 9.
 */
export async function useAppStoreApiFixture() {
  const chain = await createAppleTestChain();
  const key = await createAppStoreApiKey();
  const strangerKey = await createAppStoreApiKey();
  const sandbox = await startFakeAppStoreServerApi({
    environment: "Sandbox",
    signer: chain,
    keys: [{ issuerId: key.issuerId, keyId: key.keyId, publicKey: key.publicKey, bundleId: TEST_BUNDLE_ID }],
  });
  afterAll(() => sandbox.close());
  const config: Partial<GatewayConfig> = {
    appleTrustedRoots: [chain.rootDer],
    appStoreSandboxApiBaseUrl: sandbox.url,
    appStoreApiBaseUrl: "http://127.0.0.1:9",
  };
  return { chain, key, strangerKey, sandbox, config };
}

/** An app whose `apple` block carries `apiKey` (none: no App Store Server API key). */
export async function createAppWithAppStoreKey(gateway: GatewayUrl, apiKey: AppStoreApiTestKey | null) {
  const apple = apiKey
    ? { bundle_id: TEST_BUNDLE_ID, issuer_id: apiKey.issuerId, key_id: apiKey.keyId, private_key: apiKey.privateKeyPem }
    : { bundle_id: TEST_BUNDLE_ID };
  const created = await apiClient(gateway.url as string, ADMIN_TOKEN).post("/v1/apps", { name: "App Store API", apple });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return {
    appId: created.body.id as string,
    api: apiClient(gateway.url as string, created.body.api_key as string),
    appleUrl: created.body.ingress.apple.url as string,
  };
}

/**
 * `count` DID_RENEW notifications as Apple's history holds them, one for each of `count` distinct
 * transactions (`<idPrefix><n>`), the i-th sent at `sentAt(i)`.
 */
export function renewalHistory(chain: AppleJwsSigner, count: number, sentAt: (i: number) => number, idPrefix: string): FakeHistoryEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    sentAt: sentAt(i),
    signedPayload: signAppleNotification(chain, {
      notificationType: "DID_RENEW",
      environment: "Sandbox",
      signedDate: sentAt(i),
      transaction: { originalTransactionId: `${idPrefix}${String(i).padStart(5, "0")}` },
    }).signedPayload,
  }));
}

/** Starts a sandbox replay of [start, end) through the API; returns the 202 answer's replay. */
export async function startReplay(app: { appId: string; api: ReturnType<typeof apiClient> }, start: number, end: number) {
  const started = await app.api.post(`/v1/apps/${app.appId}/apple/history-replays`, {
    environment: "sandbox",
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
  });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  return started.body;
}
