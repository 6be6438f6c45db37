import "reflect-metadata";
import { afterAll, describe, expect, it } from "vitest";
import { createAppleTestChain, signAppleNotification, TEST_BUNDLE_ID } from "@subgate/testing/apple";
import { ConfigError, parseEnv } from "../src/config.ts";
import { ADMIN_TOKEN, apiClient, createTestEnvironment, postToIngress, type TestEnvironment } from "./harness.ts";

/*
 * A proxy appends the address it saw to X-Forwarded-For, after whatever the client sent. With
 * TRUST_PROXY=true Express takes the first entry, the client's own claim: anyone could pass
 * APPLE_INGRESS_ALLOWED_IPS by sending `X-Forwarded-For: 17.1.2.3`. So the combination is refused,
 * and a hop count reads the entry the proxy wrote.
 */
const chain = await createAppleTestChain();
const environments: TestEnvironment[] = [];
afterAll(async () => {
  for (const env of environments.splice(0)) await env.close();
});

describe("APPLE_INGRESS_ALLOWED_IPS behind a proxy", () => {
  it("refuses TRUST_PROXY=true with an allow list, at parse and at start", async () => {
    expect(() => parseEnv({ TRUST_PROXY: "true", APPLE_INGRESS_ALLOWED_IPS: "17.0.0.0/8" })).toThrow(
      /TRUST_PROXY: .*X-Forwarded-For a client writes/,
    );
    expect(() => parseEnv({ TRUST_PROXY: "1", APPLE_INGRESS_ALLOWED_IPS: "17.0.0.0/8" })).not.toThrow();
    expect(() => parseEnv({ TRUST_PROXY: "true" })).not.toThrow();
    const env = await createTestEnvironment({ appleIngressAllowedIps: ["17.0.0.0/8"], trustProxy: true });
    environments.push(env);
    await expect(env.start("server")).rejects.toBeInstanceOf(ConfigError);
  });

  it("with one trusted hop, refuses a client that forged X-Forwarded-For through an appending proxy", async () => {
    const env = await createTestEnvironment({ appleTrustedRoots: [chain.rootDer], appleIngressAllowedIps: ["17.0.0.0/8"], trustProxy: 1 });
    environments.push(env);
    const gateway = await env.start("server");
    const created = await apiClient(gateway.url as string, ADMIN_TOKEN).post("/v1/apps", {
      name: "xff",
      apple: { bundle_id: TEST_BUNDLE_ID },
    });
    const body = signAppleNotification(chain, { notificationType: "TEST", transaction: null, renewal: null }).body;
    // What the proxy forwards for a client at 203.0.113.9 that sent "X-Forwarded-For: 17.1.2.3".
    const forged = await postToIngress(gateway, created.body.ingress.apple.url, body, { "x-forwarded-for": "17.1.2.3, 203.0.113.9" });
    expect(forged.status).toBe(403);
    expect(forged.body.error.message).toBe("address 203.0.113.9 is not in APPLE_INGRESS_ALLOWED_IPS");
    const apple = await postToIngress(gateway, created.body.ingress.apple.url, body, { "x-forwarded-for": "203.0.113.9, 17.1.2.3" });
    expect(apple.status, JSON.stringify(apple.body)).toBe(200);
    // Junk where an address should be is not repeated into the app's status.
    const junk = await postToIngress(gateway, created.body.ingress.apple.url, body, { "x-forwarded-for": "<script>" });
    expect(junk.body.error.message).toBe("address (not an IP address) is not in APPLE_INGRESS_ALLOWED_IPS");
  });
});
