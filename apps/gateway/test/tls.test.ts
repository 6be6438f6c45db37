import { get } from "node:https";
import type { AddressInfo } from "node:net";
import tls, { type ConnectionOptions, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSelfSignedTlsCertificate, type TlsCertificate } from "@subgate/testing";
import type { Gateway } from "../src/gateway.ts";
import { createTestEnvironment, type TestEnvironment } from "./harness.ts";

/*
 * TLS_CERT_FILE and TLS_KEY_FILE: the HTTP server serves HTTPS, TLS 1.2 and later only (Apple posts
 * to nothing older). A worker's HEALTH_PORT stays plain HTTP, for orchestrator probes.
 */

let certificate: TlsCertificate;
let env: TestEnvironment;
let gateway: Gateway;

beforeAll(async () => {
  certificate = await createSelfSignedTlsCertificate();
  env = await createTestEnvironment({ tls: { cert: Buffer.from(certificate.cert), key: Buffer.from(certificate.key) }, healthPort: 0 });
  gateway = await env.start("server");
});

afterAll(async () => {
  await env?.close();
});

/** A GET over HTTPS trusting the test certificate; the protocol version the connection negotiated. */
function httpsGet(url: string, options: { maxVersion?: tls.SecureVersion } = {}) {
  return new Promise<{ status: number; body: string; protocol: string | null }>((resolve, reject) => {
    const request = get(url, { ca: certificate.cert, agent: false, ...options }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, body, protocol: (response.socket as TLSSocket).getProtocol() ?? null }),
      );
    });
    request.on("error", reject);
  });
}

/** A client that offers TLS 1.0 and 1.1 only (OpenSSL's security level 0 lets it offer them at all). */
const OLD_CLIENT: ConnectionOptions = { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" };

/** The protocol an old client negotiates with a server, or the error code of its refusal. */
function handshake(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: certificate.cert, ...OLD_CLIENT }, () => {
      resolve(socket.getProtocol() ?? "none");
      socket.destroy();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

const portOf = (url: string) => Number(new URL(url).port);

describe("the HTTP server with TLS_CERT_FILE and TLS_KEY_FILE", () => {
  it("serves HTTPS at an https:// URL, with TLS 1.3 or 1.2", async () => {
    expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await httpsGet(`${gateway.url}/healthz`);
    expect(health).toMatchObject({ status: 200, body: JSON.stringify({ status: "ok" }) });
    expect(["TLSv1.3", "TLSv1.2"]).toContain(health.protocol);
    // A client that goes no further than TLS 1.2 is served too.
    expect(await httpsGet(`${gateway.url}/healthz`, { maxVersion: "TLSv1.2" })).toMatchObject({ status: 200, protocol: "TLSv1.2" });
  });

  it("refuses a client limited to TLS 1.1 with a protocol-version alert", async () => {
    expect(await handshake(portOf(gateway.url as string))).toBe("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
  });

  it("(the same client does connect to a server that allows TLS 1.1, so the refusal above can fail)", async () => {
    const server = tls.createServer(
      { cert: certificate.cert, key: certificate.key, minVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0" },
      (socket) => socket.end(),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      expect(await handshake((server.address() as AddressInfo).port)).toBe("TLSv1.1");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("refuses TLS 1.1 by its own minimum, not Node's default (which a flag such as --tls-min-v1.0 lowers)", async () => {
    const nodeDefault = tls.DEFAULT_MIN_VERSION;
    tls.DEFAULT_MIN_VERSION = "TLSv1";
    try {
      const lowered = await env.start("server");
      // A server on Node's lowered default would fail the handshake otherwise (internal error: the
      // old client's ciphers are below OpenSSL's security level), not with a protocol-version alert.
      expect(await handshake(portOf(lowered.url as string))).toBe("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
      await lowered.close();
    } finally {
      tls.DEFAULT_MIN_VERSION = nodeDefault;
    }
  });

  it("leaves a worker's HEALTH_PORT plain HTTP, for orchestrator probes", async () => {
    const worker = await env.start("worker");
    expect(worker.healthUrl).toMatch(/^http:\/\//);
    const health = await fetch(`${worker.healthUrl}/healthz`);
    expect(health.status).toBe(200);
  });
});
