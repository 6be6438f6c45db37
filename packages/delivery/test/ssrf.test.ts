import { describe, expect, it } from "vitest";
import { WebhookUrlRejectedError, checkWebhookUrl, isForbiddenAddress } from "../src/index.ts";

describe("isForbiddenAddress", () => {
  it.each([
    ["8.8.8.8", "public IPv4"],
    ["1.1.1.1", "public IPv4"],
    ["172.32.0.1", "just above 172.16/12"],
    ["100.128.0.1", "just above CGNAT 100.64/10"],
    ["11.0.0.1", "just above 10/8"],
    ["2606:4700:4700::1111", "public IPv6"],
    ["2001:4860:4860::8888", "public IPv6"],
    ["::ffff:8.8.8.8", "IPv4-mapped public"],
    ["64:ff9b::808:808", "NAT64 of a public IPv4"],
    ["2002:808:808::1", "6to4 of a public IPv4"],
    ["2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo, public server and client"],
  ])("allows %s (%s)", (ip) => {
    expect(isForbiddenAddress(ip)).toBe(false);
  });

  it.each([
    ["10.0.0.1", "private 10/8"],
    ["172.16.0.1", "private 172.16/12"],
    ["172.31.255.255", "private 172.16/12"],
    ["192.168.1.1", "private 192.168/16"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["169.254.169.254", "cloud metadata (link-local)"],
    ["169.254.0.1", "link-local"],
    ["100.64.0.1", "CGNAT"],
    ["100.127.255.254", "CGNAT"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "0/8"],
    ["255.255.255.255", "broadcast"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved 240/4"],
    ["192.0.2.1", "documentation TEST-NET-1"],
    ["198.51.100.1", "documentation TEST-NET-2"],
    ["203.0.113.1", "documentation TEST-NET-3"],
    ["198.18.0.1", "benchmarking"],
    ["198.19.255.255", "benchmarking"],
    ["192.0.0.8", "IETF protocol assignments 192.0.0/24"],
    ["::1", "IPv6 loopback"],
    ["[::1]", "IPv6 loopback in URL brackets"],
    ["::", "IPv6 unspecified"],
    ["fe80::1", "IPv6 link-local"],
    ["fe80::1%eth0", "IPv6 link-local with zone"],
    ["fc00::1", "IPv6 ULA"],
    ["fd12:3456:789a::1", "IPv6 ULA"],
    ["fec0::1", "deprecated site-local"],
    ["ff02::1", "IPv6 multicast"],
    ["2001:db8::1", "IPv6 documentation"],
    ["100::1", "IPv6 discard"],
    ["::7f00:1", "IPv4-compatible (deprecated)"],
    ["::ffff:127.0.0.1", "IPv4-mapped loopback"],
    ["::ffff:7f00:1", "IPv4-mapped loopback, hex form"],
    ["::ffff:169.254.169.254", "IPv4-mapped metadata"],
    ["::ffff:10.0.0.1", "IPv4-mapped private"],
    ["64:ff9b::7f00:1", "NAT64 of loopback"],
    ["64:ff9b:1::1", "NAT64 local-use prefix"],
    ["2002:7f00:1::1", "6to4 of loopback"],
    ["2002:a00:1::", "6to4 of 10.0.0.1"],
    ["2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo with client 10.0.0.1"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo with documentation client (RFC 4380 example)"],
    ["not-an-ip", "not an address"],
    ["", "empty"],
    ["256.1.1.1", "invalid IPv4"],
  ])("forbids %s (%s)", (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });
});

async function rejectionOf(promise: Promise<unknown>): Promise<WebhookUrlRejectedError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookUrlRejectedError);
    return error as WebhookUrlRejectedError;
  }
  throw new Error("expected the URL to be rejected");
}

const strict = { allowPrivateTargets: false };
const publicResolver = async (): Promise<string[]> => ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"];

describe("checkWebhookUrl", () => {
  it("accepts a public https URL", async () => {
    await expect(checkWebhookUrl("https://hooks.example.com/subgate", { ...strict, resolve: publicResolver })).resolves.toBeUndefined();
    await expect(checkWebhookUrl("https://8.8.8.8/hook", strict)).resolves.toBeUndefined();
  });

  it("rejects schemes other than http and https", async () => {
    expect((await rejectionOf(checkWebhookUrl("ftp://example.com/hook", strict))).reason).toMatch(/http or https/);
    expect((await rejectionOf(checkWebhookUrl("file:///etc/passwd", strict))).reason).toMatch(/http or https/);
  });

  it("rejects something that is not an absolute URL", async () => {
    expect((await rejectionOf(checkWebhookUrl("example.com/hook", strict))).reason).toMatch(/valid absolute URL/);
  });

  it("rejects credentials in the URL", async () => {
    const withPassword = await rejectionOf(checkWebhookUrl("https://user:pass@example.com/hook", { ...strict, resolve: publicResolver }));
    expect(withPassword.reason).toMatch(/user name or password/);
    expect(withPassword.reason).not.toContain("pass@");
    await rejectionOf(checkWebhookUrl("https://user@example.com/hook", { ...strict, resolve: publicResolver }));
  });

  it.each([
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook", // resolved by the system resolver to loopback
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433/", // decimal 127.0.0.1, canonicalised by the URL parser
    "http://[::ffff:127.0.0.1]/",
    "https://10.1.2.3/hook",
  ])("rejects %s", async (url) => {
    const error = await rejectionOf(checkWebhookUrl(url, strict));
    expect(error.reason).toMatch(/loopback, private, link-local/);
  });

  it("rejects a name when any one of its addresses is private", async () => {
    const mixed = async (): Promise<string[]> => ["93.184.215.14", "10.0.0.5"];
    await rejectionOf(checkWebhookUrl("https://mixed.example.com/", { ...strict, resolve: mixed }));
  });

  it("rejects a name that does not resolve, without resolver detail", async () => {
    const failing = async (): Promise<string[]> => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND internal.corp 10.9.9.9"), { code: "ENOTFOUND" });
    };
    const error = await rejectionOf(checkWebhookUrl("https://nowhere.example/", { ...strict, resolve: failing }));
    expect(error.reason).toBe("host name does not resolve");
    const empty = async (): Promise<string[]> => [];
    await rejectionOf(checkWebhookUrl("https://nowhere.example/", { ...strict, resolve: empty }));
  });

  it("gives up on a resolver that hangs", async () => {
    const hanging = (): Promise<string[]> => new Promise(() => {});
    const error = await rejectionOf(checkWebhookUrl("https://slow.example/", { ...strict, resolve: hanging, resolveTimeoutMs: 50 }));
    expect(error.reason).toMatch(/in time/);
  });

  it("accepts loopback and private targets when allowPrivateTargets is set", async () => {
    const allow = { allowPrivateTargets: true };
    await expect(checkWebhookUrl("http://127.0.0.1:8080/hook", allow)).resolves.toBeUndefined();
    await expect(checkWebhookUrl("http://localhost:3000/hook", allow)).resolves.toBeUndefined();
    await expect(checkWebhookUrl("http://[::1]/hook", allow)).resolves.toBeUndefined();
    // The other rules still apply.
    await rejectionOf(checkWebhookUrl("ftp://127.0.0.1/", allow));
    await rejectionOf(checkWebhookUrl("http://a:b@127.0.0.1/", allow));
  });
});
