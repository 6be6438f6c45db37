import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { generateWebhookSecret, signWebhook } from "../src/index.ts";

const body = JSON.stringify({ api_version: "1.0", event: { id: "evt_1", type: "RENEWAL", note: "héllo ✓" } });

describe("generateWebhookSecret", () => {
  it("is whsec_ + base64 of 32 random bytes", () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(secret.slice("whsec_".length), "base64")).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });
});

describe("signWebhook", () => {
  it("produces headers the standardwebhooks library verifies", () => {
    const secret = generateWebhookSecret();
    const timestamp = new Date();
    const headers = signWebhook({ msgId: "msg_abc123", body, secrets: [secret], timestamp });
    expect(headers["webhook-id"]).toBe("msg_abc123");
    expect(headers["webhook-timestamp"]).toBe(String(Math.floor(timestamp.getTime() / 1000)));
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it("does not verify with another secret or a changed body", () => {
    const headers = signWebhook({ msgId: "msg_1", body, secrets: [generateWebhookSecret()], timestamp: new Date() });
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...headers })).toThrow(/No matching signature/);
  });

  it("signs with every secret during rotation so either verifies", () => {
    const current = generateWebhookSecret();
    const previous = generateWebhookSecret();
    const headers = signWebhook({ msgId: "msg_2", body, secrets: [current, previous], timestamp: new Date() });
    const signatures = headers["webhook-signature"].split(" ");
    expect(signatures).toHaveLength(2);
    expect(signatures.every((signature) => signature.startsWith("v1,"))).toBe(true);
    expect(() => new Webhook(current).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(previous).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...headers })).toThrow();
  });

  it("refuses programming errors", () => {
    const secret = generateWebhookSecret();
    const timestamp = new Date();
    expect(() => signWebhook({ msgId: "msg_1", body, secrets: [], timestamp })).toThrow(/at least one/);
    expect(() => signWebhook({ msgId: "msg.1", body, secrets: [secret], timestamp })).toThrow(/msgId/);
    expect(() => signWebhook({ msgId: "msg 1\r\n", body, secrets: [secret], timestamp })).toThrow(/msgId/);
    expect(() => signWebhook({ msgId: "msg_1", body, secrets: [secret], timestamp: new Date(Number.NaN) })).toThrow(/timestamp/);
    let message = "";
    try {
      signWebhook({ msgId: "msg_1", body, secrets: [secret, "whsec_!!not*base64!!"], timestamp });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/secret #2/);
    expect(message).not.toContain("not*base64");
  });
});
