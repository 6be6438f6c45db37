import "reflect-metadata";
import { afterAll, expect } from "vitest";
import {
  type AppStoreApiTestKey,
  createAppleTestChain,
  createAppStoreApiKey,
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
