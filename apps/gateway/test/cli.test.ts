import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { eventually, subscriptionEvent } from "@subgate/testing";
import { closedPort, runSubgate, STACK_FRAME } from "./cli-process.ts";
import { ADMIN_TOKEN, apiClient, createStripeApp, createTrackedStripeApp, sendStripeEvent, useGatewayWithReceiver } from "./harness.ts";

/*
 * The `subgate` CLI as a user runs it: the real bin in a child process, against a real gateway, over
 * HTTP only. What is checked is what a user and a script see: the text, the JSON and the exit code.
 */

const context = useGatewayWithReceiver();
const url = () => context.gateway.url as string;

// Child processes that need no gateway state run side by side (each is mostly Node and tsx starting).
describe.concurrent("help", () => {
  it.for<[string[], string]>([
    [["--help"], "Usage: subgate <command>"],
    [["-h"], "Usage: subgate <command>"],
    [["help"], "Usage: subgate <command>"],
    [["status", "--help"], "Usage: subgate status --app"],
    [["apple", "--help"], "Usage: subgate apple <command>"],
    [["apple", "test-notification", "--help"], "Usage: subgate apple test-notification --app"],
    [["apple", "replay", "--help"], "Usage: subgate apple replay --app"],
    [["apple", "replay-status", "--help"], "Usage: subgate apple replay-status --app"],
    [["help", "apple", "replay"], "Usage: subgate apple replay --app"],
    // Help wins over the other mistakes on the line: it is what the user is asking for.
    [["status", "--bogus", "--help"], "Usage: subgate status --app"],
  ])("subgate %j prints usage with examples and exits 0", async ([args, usage], { expect }) => {
    const run = await runSubgate(args);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(usage);
    expect(run.stdout).toContain("Examples:");
  });

  it("documents the times --since and --until take", async ({ expect }) => {
    const run = await runSubgate(["apple", "replay", "--help"]);
    for (const text of ["7d", "24h", "30m", "2026-01-01T00:00:00Z", "Ctrl-C stops watching, not the replay"])
      expect(run.stdout).toContain(text);
  });

  it("is linked by npm: `npx subgate --help` from the repository root", async ({ expect }) => {
    const run = await runSubgate(["--help"], {}, { npx: true, timeoutMs: 60_000 });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: subgate <command>");
  });
});

describe.concurrent("usage errors", () => {
  const key = { SUBGATE_API_KEY: "sk_unused" };
  it.for<[string[], string, string]>([
    [[], "missing command", "subgate --help"],
    [["bogus"], 'unknown command "bogus"', "subgate --help"],
    [["status"], "missing --app <app_id>", "subgate status --help"],
    [["status", "--app"], "--app needs a value", "subgate status --help"],
    [["status", "--app", "app_x", "--bogus"], "unknown option --bogus", "subgate status --help"],
    [["status", "--app", "app_x", "extra"], 'unexpected argument "extra"', "subgate status --help"],
    [["status", "--app", "app_x", "--since", "7d"], "status takes no --since", "subgate status --help"],
    [["status", "--app", "app_x", "--url", "ftp://example.com"], "not an http or https URL", "subgate status --help"],
    [["apple"], "missing apple command", "subgate apple --help"],
    [["apple", "nope"], 'unknown apple command "nope"', "subgate apple --help"],
    [
      ["apple", "test-notification", "--app", "app_x", "--environment", "staging"],
      "--environment must be sandbox or production",
      "subgate apple test-notification --help",
    ],
    [["apple", "test-notification", "--app", "app_x", "--timeout", "soon"], "--timeout:", "subgate apple test-notification --help"],
    [["apple", "replay", "--app", "app_x"], "missing --since <time>", "subgate apple replay --help"],
    [["apple", "replay", "--app", "app_x", "--since", "yesterday"], "--since:", "subgate apple replay --help"],
    [["apple", "replay", "--app", "app_x", "--since", "2026-01-01T10:00"], "no time zone", "subgate apple replay --help"],
    [["apple", "replay", "--app", "app_x", "--since", "1d", "--until", "2d"], "must be before --until", "subgate apple replay --help"],
    [["apple", "replay-status", "--app", "app_x"], "missing --id <replay_id>", "subgate apple replay-status --help"],
  ])("subgate %j: one line, a pointer to --help, exit 2", async ([args, problem, help], { expect }) => {
    const run = await runSubgate(args, key);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(problem);
    expect(run.stderr).toContain(`(see: ${help})`);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("without an API key, says where one comes from", async ({ expect }) => {
    const run = await runSubgate(["status", "--app", "app_x"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("no API key: pass --api-key or set SUBGATE_API_KEY");
  });

  it("with --json, is a JSON error on stdout with the same exit code", async ({ expect }) => {
    const run = await runSubgate(["status", "--json", "--bogus"], key);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({ error: { code: "usage", message: "unknown option --bogus" } });
  });
});

describe("status", () => {
  it("prints a table with relative and UTC times, and --json prints the gateway's answer as it is", async () => {
    const tracked = await createTrackedStripeApp(context.gateway, context.receiver, { subscriptionId: "sub_cli_status" });
    await tracked.send(subscriptionEvent({ subscriptionId: "sub_cli_status", type: "customer.subscription.created" }), 1);
    const answer = await eventually(async () => {
      const status = await tracked.api.get(`/v1/apps/${tracked.appId}/notification-status`);
      return status.body.stores.some((entry: any) => entry.last_received_at) ? status : undefined;
    });

    const run = await runSubgate(["status", "--app", tracked.appId], { SUBGATE_URL: url(), SUBGATE_API_KEY: ADMIN_TOKEN });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const [header, ...rows] = run.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^STORE\s+ENVIRONMENT\s+LAST RECEIVED\s+LAST TEST\s+LAST REJECTED\s+REASON$/);
    const sandbox = rows.find((row) => row.startsWith("stripe") && row.includes("sandbox"));
    expect(sandbox).toMatch(/(just now|seconds? ago) \(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z\)\s+never\s+never$/);
    expect(rows.find((row) => row.includes("production"))).toMatch(/production\s+never\s+never\s+never$/);

    const json = await runSubgate(["status", "--app", tracked.appId, "--json"], { SUBGATE_URL: url(), SUBGATE_API_KEY: ADMIN_TOKEN });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(answer.body);
  });

  it("shows the last refusal and its reason, with the app's own key given as flags", async () => {
    const app = await createStripeApp(context.gateway);
    const refused = await sendStripeEvent(
      context.gateway,
      app.stripeUrl,
      subscriptionEvent({ subscriptionId: "sub_x" }),
      "whsec_not_the_secret",
    );
    expect(refused.status).toBe(401);

    const run = await runSubgate(["status", "--app", app.appId, "--url", url(), "--api-key", app.apiKey]);
    expect(run.code).toBe(0);
    const rows = run.stdout.trimEnd().split("\n").slice(1);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatch(/never\s+never\s+(just now|\d+ seconds? ago) \(.+Z\)\s+signature does not match/);
  });

  it("takes the flags over the environment", async () => {
    const app = await createStripeApp(context.gateway);
    const run = await runSubgate(["status", "--app", app.appId, "--url", url(), "--api-key", app.apiKey], {
      SUBGATE_URL: `http://127.0.0.1:${await closedPort()}`,
      SUBGATE_API_KEY: "sk_wrong",
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });

  it("says so when an app has no store at all", async () => {
    const created = await apiClient(url(), ADMIN_TOKEN).post("/v1/apps", { name: "Empty" });
    expect(created.status).toBe(201);
    const run = await runSubgate(["status", "--app", created.body.id, "--url", url(), "--api-key", created.body.api_key]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("no store configured and none seen yet");
  });
});

describe("failures", () => {
  it("a gateway that cannot be reached: exit 1, one line naming the URL", async () => {
    const gone = `http://127.0.0.1:${await closedPort()}`;
    const run = await runSubgate(["status", "--app", "app_x", "--url", gone], { SUBGATE_API_KEY: ADMIN_TOKEN });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(new RegExp(`^subgate: cannot reach subgate at ${gone}: .*ECONNREFUSED.*\\n$`));

    const json = await runSubgate(["status", "--app", "app_x", "--url", gone, "--json"], { SUBGATE_API_KEY: ADMIN_TOKEN });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({
      code: "unreachable",
      message: expect.stringContaining(`cannot reach subgate at ${gone}`),
    });
  });

  it("a wrong API key: exit 1 with the gateway's message, and the gateway's error object with --json", async () => {
    const app = await createStripeApp(context.gateway);
    const env = { SUBGATE_URL: url(), SUBGATE_API_KEY: "sk_not_a_key_of_this_gateway" };
    const run = await runSubgate(["status", "--app", app.appId], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^subgate: invalid API key \(HTTP 401 unauthenticated, request id req_\w+\)\n$/);

    const json = await runSubgate(["status", "--app", app.appId, "--json"], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: "unauthenticated", message: "invalid API key", request_id: expect.stringMatching(/^req_/) },
    });
  });

  it("another app's id: the gateway's 404, not a stack trace", async () => {
    const [mine, theirs] = [await createStripeApp(context.gateway), await createStripeApp(context.gateway)];
    const run = await runSubgate(["status", "--app", theirs.appId, "--url", url(), "--api-key", mine.apiKey]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("subgate: app not found (HTTP 404 not_found");
    expect(run.stderr).not.toMatch(STACK_FRAME);
  });

  it("an answer that is not subgate's (a proxy's error page): says so instead of tracing", async () => {
    const proxy = createServer((_req, res) => res.writeHead(502, { "content-type": "text/html" }).end("<html>Bad Gateway</html>"));
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const run = await runSubgate(["status", "--app", "app_x", "--url", proxyUrl, "--api-key", ADMIN_TOKEN]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `subgate: unexpected answer from subgate at ${proxyUrl}: answered 502 Bad Gateway without a subgate error body (is ${proxyUrl} a subgate gateway?)\n`,
      );
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
