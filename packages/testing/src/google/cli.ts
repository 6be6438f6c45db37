import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createServiceAccountKey, startFakePlayApi } from "./fake-play-api.ts";
import { subscriptionPurchase } from "./play-purchases.ts";
import { developerNotification, googlePushBody, TEST_PACKAGE_NAME } from "./push.ts";

/*
 * Google Play without Google, for a newcomer's first run (the README's walkthrough):
 * - `npm run google:fake-api -- --token T`: a local Android Publisher API that answers an active
 *   subscription for each token given, and accepts one service account, made once and kept in
 *   `.subgate/google-test-key/` with a ready `google` block to PATCH into the app;
 * - `npm run google:push -- --type 4 --token T`: prints the body Pub/Sub would push for a
 *   real-time developer notification (without an OIDC token: the walkthrough's app leaves push
 *   authentication off).
 */

const USAGE = `usage:
  npm run google:fake-api -- --token TOKEN [--token TOKEN ...] [--port 4020] [--package NAME]
      Serves a local Android Publisher API until Ctrl-C; point the gateway at it with PLAY_API_BASE_URL.
  npm run google:push -- --type N --token TOKEN [--package NAME]
  npm run google:push -- --test [--package NAME]
      Prints a Pub/Sub push body: a subscription notification of type N (4 purchased, 2 renewed,
      3 canceled, 13 expired, ...) for TOKEN, or a test notification.`;

async function main(command: string | undefined, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      token: { type: "string", multiple: true },
      type: { type: "string" },
      test: { type: "boolean", default: false },
      port: { type: "string", default: "4020" },
      package: { type: "string", default: TEST_PACKAGE_NAME },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  if (command === "push") return printPush(values);
  if (command === "fake-api") return serve(values);
  fail(`unknown command ${JSON.stringify(command)}`);
}

function printPush(values: { token?: string[] | undefined; type?: string | undefined; test: boolean; package: string }): void {
  if (values.test)
    return void console.log(googlePushBody({ notification: developerNotification("test", { packageName: values.package }) }));
  const type = Number(values.type);
  const token = values.token?.[0];
  if (!Number.isInteger(type) || type < 1) fail("--type must be a subscription notification type (1 to 22)");
  if (!token) fail("--token is required");
  const notification = developerNotification("subscription", { notificationType: type, purchaseToken: token, packageName: values.package });
  console.log(googlePushBody({ notification }));
}

async function serve(values: { token?: string[] | undefined; port: string; package: string }): Promise<void> {
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail("--port must be a port number");
  const base = process.env.INIT_CWD ?? process.cwd();
  const dir = resolve(base, ".subgate", "google-test-key");
  const key = await loadOrCreateKey(dir);
  const play = await startFakePlayApi({ accounts: [{ serviceAccountKey: key, packageNames: [values.package] }], port });
  for (const token of values.token ?? []) play.setSubscription(token, subscriptionPurchase());
  const block = relative(process.cwd(), join(dir, "google-block.json"));
  console.log(`fake Android Publisher API listening on ${play.url}
  service account ${key.client_email}; the app's google block to PATCH: ${block}
  active subscriptions for: ${(values.token ?? []).join(", ") || "(none: pass --token)"}
  start the gateway with PLAY_API_BASE_URL=${play.url}`);
  const stop = () => void play.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

type StoredKey = Awaited<ReturnType<typeof createServiceAccountKey>>;

async function loadOrCreateKey(dir: string): Promise<StoredKey> {
  const file = join(dir, "service-account.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as StoredKey;
  const key = await createServiceAccountKey({ email: "subgate-local@subgate-local.iam.gserviceaccount.com", projectId: "subgate-local" });
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  const { publicKey: _publicKey, ...downloaded } = key;
  // What the app's google block gets: the key file as Google Cloud downloads it.
  writeFileSync(join(dir, "google-block.json"), JSON.stringify({ google: { service_account_key: downloaded } }), { mode: 0o600 });
  return key;
}

function fail(message: unknown): never {
  console.error(`google: ${message instanceof Error ? message.message : String(message)}\n\n${USAGE}`);
  process.exit(2);
}

const [command, ...rest] = process.argv.slice(2);
main(command, rest).catch(fail);
