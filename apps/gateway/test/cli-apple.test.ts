import { describe, expect, it } from "vitest";
import { signAppleNotification, TEST_BUNDLE_ID } from "@subgate/testing/apple";
import { createAppWithAppStoreKey, useAppStoreApiFixture } from "./app-store-api-fixture.ts";
import { runSubgate } from "./cli-process.ts";
import { ADMIN_TOKEN, useGatewayWithReceiver } from "./harness.ts";

/*
 * `subgate apple ...` as a user runs it: the real bin in a child process, against a gateway whose
 * App Store Server API is a local fake that checks the JWT as Apple does and delivers the TEST
 * notification to the ingress URL it is given, as App Store Connect's URL would make Apple do.
 */

const HOUR_MS = 3_600_000;
const { chain, key, strangerKey, sandbox, config } = await useAppStoreApiFixture();
const context = useGatewayWithReceiver(config);
const createApp = (apiKey: typeof key = key) => createAppWithAppStoreKey(context.gateway, apiKey);
/** The admin token reaches every app: the CLI takes it as it takes an app's key. */
const cli = (args: string[]) => runSubgate(args, { SUBGATE_URL: context.gateway.url as string, SUBGATE_API_KEY: ADMIN_TOKEN });
/** The ingress URL as this test's gateway serves it (the public base URL is not reachable here). */
const reachable = (publicUrl: string) => `${context.gateway.url}${new URL(publicUrl).pathname}`;

describe("subgate apple test-notification", () => {
  it("waits for the TEST to arrive, prints Apple's SUCCESS and when subgate received it, and exits 0", async () => {
    const app = await createApp();
    sandbox.setNotificationUrl(reachable(app.appleUrl));

    const run = await cli(["apple", "test-notification", "--app", app.appId, "--timeout", "20s"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe("");
    const [title, ...lines] = run.stdout.trimEnd().split("\n");
    expect(title).toMatch(/^Apple TEST notification \(sandbox\), token [0-9a-f-]{36}_\d+$/);
    expect(lines).toEqual([
      "  Apple's send attempts:",
      expect.stringMatching(/^ {4}(just now|\d+ seconds? ago) \(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z\) {2}SUCCESS$/),
      expect.stringMatching(/^ {2}received by subgate: (just now|\d+ seconds? ago) \(.+Z\)$/),
    ]);
  });

  it("with --json, prints the token, Apple's attempts and received_at", async () => {
    const app = await createApp();
    sandbox.setNotificationUrl(reachable(app.appleUrl));
    const run = await cli(["apple", "test-notification", "--app", app.appId, "--environment", "sandbox", "--json"]);
    expect(run.code, run.stdout).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      test_notification_token: expect.stringMatching(/_\d+$/),
      send_attempts: [{ attempted_at: expect.any(String), result: "SUCCESS" }],
      received_at: expect.any(String),
    });
  });

  it("a TEST Apple could not deliver: exit 1 with Apple's result and what to check, without waiting out the timeout", async () => {
    const app = await createApp();
    // App Store Connect holding a URL this gateway does not know: the ingress answers 404 to Apple.
    sandbox.setNotificationUrl(`${context.gateway.url}/ingress/apple/${"x".repeat(43)}`);
    const started = Date.now();
    const run = await cli(["apple", "test-notification", "--app", app.appId]);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("UNSUCCESSFUL_HTTP_RESPONSE_CODE");
    expect(run.stdout).toContain("received by subgate: not yet");
    expect(run.stderr).toContain("subgate: Apple could not deliver the TEST notification (sandbox): UNSUCCESSFUL_HTTP_RESPONSE_CODE");
    for (const check of [
      "Sandbox Server URL in App Store Connect",
      "HTTPS",
      "APPLE_INGRESS_ALLOWED_IPS",
      `subgate status --app ${app.appId}`,
    ]) {
      expect(run.stderr).toContain(check);
    }
  });

  it("an app without an App Store Server API key: the gateway's message, exit 1", async () => {
    const app = await createAppWithAppStoreKey(context.gateway, null);
    const run = await cli(["apple", "test-notification", "--app", app.appId, "--json"]);
    expect(run.code).toBe(1);
    const { error } = JSON.parse(run.stdout);
    expect(error.code).toBe("not_configured");
    expect(error.message).toContain("apple.issuer_id, apple.key_id and apple.private_key");
  });
});

describe("subgate apple replay", () => {
  /** A DID_RENEW Apple sent at `sentAt`, in the fake's history. */
  let serial = 0;
  function historyEntry(sentAt: number) {
    serial += 1;
    const originalTransactionId = `2000000000300${String(serial).padStart(3, "0")}`;
    const signed = signAppleNotification(chain, {
      notificationType: "DID_RENEW",
      environment: "Sandbox",
      bundleId: TEST_BUNDLE_ID,
      signedDate: sentAt,
      transaction: { originalTransactionId, transactionId: `31000000${String(serial).padStart(8, "0")}`, bundleId: TEST_BUNDLE_ID },
      renewal: { originalTransactionId },
    });
    return { signedPayload: signed.signedPayload, sentAt };
  }

  it("replays a range given as times ago, shows progress on stderr, and counts in --json; a second run finds duplicates", async () => {
    const app = await createApp();
    // Inside --since 3h --until 1h whenever the CLI reads its clock; nothing else in this file is that old.
    const now = Date.now();
    sandbox.addHistory([historyEntry(now - 2.5 * HOUR_MS), historyEntry(now - 2 * HOUR_MS), historyEntry(now - 1.5 * HOUR_MS)]);

    const run = await cli(["apple", "replay", "--app", app.appId, "--since", "3h", "--until", "1h", "--environment", "sandbox", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const replay = JSON.parse(run.stdout);
    expect(replay).toMatchObject({ id: expect.stringMatching(/^rpl_/), status: "done", fetched: 3, stored: 3, duplicates: 0, error: null });
    // Not a terminal: a line per change, ending at 100%.
    expect(run.stderr).toContain(`replay ${replay.id} started (sandbox)`);
    expect(run.stderr.trimEnd().split("\n").at(-1)).toMatch(
      new RegExp(`^replay ${replay.id} done: 100%, reached .+Z, fetched 3, stored 3, duplicates 0, rejected 0$`),
    );

    const again = await cli(["apple", "replay", "--app", app.appId, "--since", "3h", "--until", "1h", "--environment", "sandbox"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^replay rpl_\w+ done: fetched 3, stored 0, duplicates 3, rejected 0 \(sandbox, .+Z to .+Z\)\n$/);

    // Watching a replay that has ended reports it at once.
    const status = await cli(["apple", "replay-status", "--app", app.appId, "--id", replay.id, "--json"]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: replay.id, status: "done", stored: 3 });
  });

  it("a replay that fails: exit 1 with its error, and the replay in the JSON error", async () => {
    const app = await createApp(strangerKey);
    const run = await cli(["apple", "replay", "--app", app.appId, "--since", "1h", "--environment", "sandbox", "--json"]);
    expect(run.code).toBe(1);
    const { error } = JSON.parse(run.stdout);
    expect(error).toMatchObject({ code: "replay_failed", replay: { status: "failed" } });
    expect(error.message).toMatch(/^replay rpl_\w+ failed: .*HTTP 401/);

    const human = await cli(["apple", "replay-status", "--app", app.appId, "--id", error.replay.id]);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/subgate: replay rpl_\w+ failed: .*apple\.issuer_id, apple\.key_id and apple\.private_key/);
  });

  it("a range the gateway refuses: its message, exit 1", async () => {
    const app = await createApp();
    const run = await cli(["apple", "replay", "--app", app.appId, "--since", "45d", "--environment", "sandbox"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^subgate: start: Apple keeps sandbox notification history for 30 days.* \(HTTP 400 bad_request/);
  });
});

// Last in the file: the fake's injected 503s keep this replay waiting for the rest of the file.
describe("Ctrl-C while a replay runs", () => {
  it("stops watching, not the replay: exit 130 and how to watch it again", async () => {
    const app = await createApp();
    sandbox.failNext(50, { status: 503, body: { errorCode: 5000000, errorMessage: "An unknown error occurred." } });
    const run = await runSubgate(
      ["apple", "replay", "--app", app.appId, "--since", "1h", "--environment", "sandbox", "--url", context.gateway.url as string],
      { SUBGATE_API_KEY: ADMIN_TOKEN },
      { interruptOn: /replay rpl_\w+ running/ },
    );
    expect(run.code, run.stderr).toBe(130);
    const id = /replay (rpl_\w+) started/.exec(run.stderr)?.[1];
    expect(run.stderr).toContain(`subgate: stopped watching; replay ${id} goes on on the gateway`);
    expect(run.stderr).toContain(`watch it again: subgate apple replay-status --app ${app.appId} --id ${id} --url ${context.gateway.url}`);
    expect(run.stdout).toBe("");

    const replay = await app.api.get(`/v1/apps/${app.appId}/apple/history-replays/${id}`);
    expect(replay.body.status).toBe("running");
  });
});
