import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@subgate/core";
import { type Gateway, type Role, startGateway } from "../src/gateway.ts";
import { NOT_HTTPS_WARNING, publicUrlWarnings } from "../src/public-url-warnings.ts";
import type { LogLine } from "./gateway-process.ts";
import { createTestEnvironment, type TestEnvironment } from "./harness.ts";

/*
 * What PUBLIC_BASE_URL says about whether stores can deliver: not https (Apple and Google Play
 * deliver to https only), or a port Apple refuses (below 1024 and not 443). Told at warn, once, by
 * the process that serves the HTTP server; a worker-only process says nothing of it.
 */

const portWarning = (port: number) =>
  `PUBLIC_BASE_URL names port ${port}: Apple only delivers to port 443 or ports 1024 and up, so App Store notifications cannot reach this gateway`;

describe("publicUrlWarnings", () => {
  it.each([
    ["https://subgate.example.com", []],
    ["https://subgate.example.com/subgate/", []],
    // The scheme's default port: the URL names none.
    ["https://subgate.example.com:443", []],
    ["https://subgate.example.com:1024", []],
    ["https://subgate.example.com:8443", []],
    ["https://subgate.example.com:1023", [portWarning(1023)]],
    ["https://subgate.example.com:80", [portWarning(80)]],
    ["https://subgate.example.com:0", [portWarning(0)]],
    ["http://localhost:3000", [NOT_HTTPS_WARNING]],
    ["http://subgate.example.com", [NOT_HTTPS_WARNING]],
    ["http://subgate.example.com:80", [NOT_HTTPS_WARNING]],
    ["http://subgate.example.com:443", [NOT_HTTPS_WARNING]],
    ["http://subgate.example.com:25", [NOT_HTTPS_WARNING, portWarning(25)]],
  ])("%s: %j", (url, expected) => {
    expect(publicUrlWarnings(url)).toEqual(expected);
  });
});

describe("the warnings at start", () => {
  const WARN = 40;
  let env: TestEnvironment;
  const started: Gateway[] = [];

  beforeAll(async () => {
    env = await createTestEnvironment();
  });
  afterAll(async () => {
    for (const gateway of started.splice(0)) await gateway.close();
    await env?.close();
  });

  /** Starts `role` with this PUBLIC_BASE_URL; the lines it logged at warn and above once started. */
  async function warningsAtStart(role: Role, publicBaseUrl: string): Promise<LogLine[]> {
    const lines: LogLine[] = [];
    const logger = createLogger({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
    started.push(await startGateway({ ...env.config, publicBaseUrl }, role, logger));
    return lines.filter((line) => line.msg === NOT_HTTPS_WARNING || line.msg.startsWith("PUBLIC_BASE_URL names port"));
  }

  it("the HTTP server warns once that an http:// PUBLIC_BASE_URL cannot be reached by stores", async () => {
    expect(await warningsAtStart("server", "http://subgate.example.com")).toEqual([
      expect.objectContaining({ level: WARN, msg: NOT_HTTPS_WARNING, public_base_url: "http://subgate.example.com" }),
    ]);
  });

  it("the HTTP server warns once of a port Apple refuses", async () => {
    expect(await warningsAtStart("all", "https://subgate.example.com:80")).toEqual([
      expect.objectContaining({ level: WARN, msg: portWarning(80) }),
    ]);
  });

  it("says nothing of an https URL on 443", async () => {
    expect(await warningsAtStart("server", "https://subgate.example.com")).toEqual([]);
  });

  it("a worker-only process does not warn: it serves no ingress", async () => {
    expect(await warningsAtStart("worker", "http://subgate.example.com:25")).toEqual([]);
  });
});
