import "reflect-metadata";
import { afterAll, describe, expect, it } from "vitest";
import { AddressAllowListError, createAddressAllowList } from "@subgate/ingress";
import { createAppleTestChain, signAppleNotification, TEST_BUNDLE_ID } from "@subgate/testing/apple";
import { subscriptionEvent } from "@subgate/testing";
import type { GatewayConfig } from "../src/config.ts";
import type { Gateway } from "../src/gateway.ts";
import {
  ADMIN_TOKEN,
  apiClient,
  createTestEnvironment,
  postToIngress,
  sendStripeEvent,
  STRIPE_SECRET,
  type TestEnvironment,
} from "./harness.ts";

/*
 * APPLE_INGRESS_ALLOWED_IPS: App Store ingress URLs take posts only from the listed addresses (as
 * `req.ip` reads them, so through TRUST_PROXY), refuse others with 403 charged to the app, and leave
 * every other store's URLs and the API alone. The tests post from 127.0.0.1.
 */

const chain = await createAppleTestChain();
const environments: TestEnvironment[] = [];

afterAll(async () => {
  for (const env of environments.splice(0)) await env.close();
});

/** A server (no worker: a 200 only needs the notification stored) trusting the test chain. */
async function startServer(overrides: Partial<GatewayConfig>): Promise<Gateway> {
  const env = await createTestEnvironment({ appleTrustedRoots: [chain.rootDer], ...overrides });
  environments.push(env);
  return env.start("server");
}

/** An app with both an App Store and a Stripe block. */
async function createApp(gateway: Gateway) {
  const created = await apiClient(gateway.url as string, ADMIN_TOKEN).post("/v1/apps", {
    name: "Allowed addresses",
    apple: { bundle_id: TEST_BUNDLE_ID },
    stripe: { webhook_secrets: [STRIPE_SECRET] },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return {
    appId: created.body.id as string,
    api: apiClient(gateway.url as string, created.body.api_key as string),
    appleUrl: created.body.ingress.apple.url as string,
    stripeUrl: created.body.ingress.stripe.url as string,
  };
}

const signedTest = () => signAppleNotification(chain, { notificationType: "TEST", transaction: null, renewal: null }).body;

describe("an address allow list", () => {
  const list = createAddressAllowList("THE_LIST", ["17.0.0.0/8", "2001:db8::/32", "203.0.113.9", "2001:db8:ffff::1"]);

  it("matches IPv4 and IPv6 ranges, and takes a plain address as /32 or /128", () => {
    expect(list.allows("17.1.2.3")).toBe(true);
    expect(list.allows("18.0.0.1")).toBe(false);
    expect(list.allows("2001:db8:1::5")).toBe(true);
    expect(list.allows("2001:db9::1")).toBe(false);
    expect(list.allows("203.0.113.9")).toBe(true);
    expect(list.allows("203.0.113.10")).toBe(false);
    expect(createAddressAllowList("X", ["2001:dc8::1"]).allows("2001:dc8::2")).toBe(false);
  });

  it("matches an IPv4-mapped IPv6 address (a socket bound to :: reports IPv4 clients so) against IPv4 ranges", () => {
    expect(list.allows("::ffff:17.1.2.3")).toBe(true);
    expect(list.allows("::ffff:203.0.113.9")).toBe(true);
    expect(list.allows("::ffff:18.1.2.3")).toBe(false);
  });

  it("allows no unknown or unreadable address", () => {
    expect(list.allows(undefined)).toBe(false);
    expect(list.allows("")).toBe(false);
    expect(list.allows("not an address")).toBe(false);
  });

  it.each([
    ["17.0.0.0/33", "an IPv4 prefix length is 0 to 32"],
    ["2001:db8::/129", "an IPv6 prefix length is 0 to 128"],
    ["17.0.0.0/", "an IPv4 prefix length is 0 to 32"],
    ["17.0.0.0/0x8", "an IPv4 prefix length is 0 to 32"],
    ["17.0.0/8", "is not an IPv4 or IPv6 address"],
    ["apple.com", "is not an IPv4 or IPv6 address"],
  ])("refuses %j, saying why", (entry, why) => {
    expect(() => createAddressAllowList("X", [entry])).toThrow(AddressAllowListError);
    expect(() => createAddressAllowList("X", [entry])).toThrow(why);
  });
});

describe("App Store ingress from an address outside APPLE_INGRESS_ALLOWED_IPS", () => {
  let gateway: Gateway;
  let app: Awaited<ReturnType<typeof createApp>>;

  it("is refused with 403 and recorded in the app's App Store status; the Stripe URL and the API are not affected", async () => {
    gateway = await startServer({ appleIngressAllowedIps: ["203.0.113.0/24", "2001:db8::/32"] });
    app = await createApp(gateway);

    const refused = await postToIngress(gateway, app.appleUrl, signedTest());
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({
      code: "forbidden",
      message: "address 127.0.0.1 is not in APPLE_INGRESS_ALLOWED_IPS",
    });

    const status = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    expect(status.status).toBe(200);
    const appStore = status.body.stores.filter((entry: any) => entry.store === "app_store");
    expect(appStore).toHaveLength(2);
    for (const entry of appStore) {
      expect(entry).toMatchObject({ last_rejection_reason: "address 127.0.0.1 is not in APPLE_INGRESS_ALLOWED_IPS", rejection_count: 1 });
    }
    for (const entry of status.body.stores.filter((e: any) => e.store === "stripe")) expect(entry.rejection_count).toBe(0);

    const stripe = await sendStripeEvent(gateway, app.stripeUrl, subscriptionEvent({ subscriptionId: "sub_allowed_ips" }));
    expect(stripe.status, JSON.stringify(stripe.body)).toBe(200);
  });

  it("is refused before its body is read: an oversized body gets 403, not 413", async () => {
    const refused = await postToIngress(gateway, app.appleUrl, "x".repeat(2 * 1024 * 1024));
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("forbidden");
  });
});

describe("APPLE_INGRESS_ALLOWED_IPS and TRUST_PROXY", () => {
  it("a post from a listed address proceeds: a signed notification is stored", async () => {
    const gateway = await startServer({ appleIngressAllowedIps: ["127.0.0.1/8"] });
    const app = await createApp(gateway);
    const stored = await postToIngress(gateway, app.appleUrl, signedTest());
    expect(stored.status, JSON.stringify(stored.body)).toBe(200);
    expect(stored.body.status).toBe("stored");
  });

  it("on a server bound to ::, an IPv4 client (seen as ::ffff:127.0.0.1) matches an IPv4 range, and ::1 does not", async () => {
    const gateway = await startServer({ host: "::", appleIngressAllowedIps: ["127.0.0.0/8"] });
    const app = await createApp(gateway);
    const overIpv4 = { url: (gateway.url as string).replace("[::1]", "127.0.0.1") };
    const stored = await postToIngress(overIpv4, app.appleUrl, signedTest());
    expect(stored.status, JSON.stringify(stored.body)).toBe(200);
    const refused = await postToIngress(gateway, app.appleUrl, signedTest());
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe("address ::1 is not in APPLE_INGRESS_ALLOWED_IPS");
  });

  it("X-Forwarded-For is not believed without TRUST_PROXY", async () => {
    const gateway = await startServer({ appleIngressAllowedIps: ["17.0.0.0/8"] });
    const app = await createApp(gateway);
    const refused = await postToIngress(gateway, app.appleUrl, signedTest(), { "x-forwarded-for": "17.1.2.3" });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe("address 127.0.0.1 is not in APPLE_INGRESS_ALLOWED_IPS");
  });

  it("with TRUST_PROXY=loopback, the address a loopback proxy forwards is the one checked", async () => {
    const gateway = await startServer({ appleIngressAllowedIps: ["17.0.0.0/8"], trustProxy: ["loopback"] });
    const app = await createApp(gateway);
    const stored = await postToIngress(gateway, app.appleUrl, signedTest(), { "x-forwarded-for": "17.1.2.3" });
    expect(stored.status, JSON.stringify(stored.body)).toBe(200);
    // The proxy forwards a client outside the list: refused, and named.
    const refused = await postToIngress(gateway, app.appleUrl, signedTest(), { "x-forwarded-for": "203.0.113.9" });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe("address 203.0.113.9 is not in APPLE_INGRESS_ALLOWED_IPS");
    // Without the header, the proxy itself is the client.
    expect((await postToIngress(gateway, app.appleUrl, signedTest())).status).toBe(403);
  });
});
