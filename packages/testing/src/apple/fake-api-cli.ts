import { createPublicKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createAppStoreApiKey, startFakeAppStoreServerApi } from "./fake-app-store-api.ts";
import { signAppleNotification, TEST_BUNDLE_ID } from "./notifications.ts";
import { loadOrCreateAppleTestChain } from "./stored-chain.ts";

/*
 * `npm run apple:fake-api`: a local App Store Server API, so a newcomer can try the test
 * notification and the history replay without Apple. It signs with the same local test chain as
 * `npm run apple:sign` and accepts one In-App Purchase key, made once and kept in
 * `.subgate/apple-test-api-key/` with a ready `apple` block to PATCH into the app.
 */

const USAGE = `usage: npm run apple:fake-api -- --notification-url URL [options]

Serves a local App Store Server API until Ctrl-C. Point the gateway at it with
APP_STORE_SANDBOX_API_BASE_URL (or APP_STORE_API_BASE_URL for --environment Production).

  --notification-url URL   where TEST notifications are posted: the app's ingress.apple.url
  --port N                 default 4010
  --environment ENV        Sandbox (default) or Production
  --bundle-id ID           the app's bundle id (default ${TEST_BUNDLE_ID})
  --app-apple-id N         the app's Apple id (production TEST notifications carry it)
  --history N              notifications to put in the history, one a minute up to now (default 5)
  --help`;

interface StoredKey {
  issuerId: string;
  keyId: string;
  privateKeyPem: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "notification-url": { type: "string" },
      port: { type: "string", default: "4010" },
      environment: { type: "string", default: "Sandbox" },
      "bundle-id": { type: "string", default: TEST_BUNDLE_ID },
      "app-apple-id": { type: "string", default: "1234567890" },
      history: { type: "string", default: "5" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  const environment = values.environment;
  if (environment !== "Sandbox" && environment !== "Production") fail("--environment must be Sandbox or Production");
  const port = Number(values.port);
  const history = Number(values.history);
  const appAppleId = Number(values["app-apple-id"]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail("--port must be a port number");
  if (!Number.isInteger(history) || history < 0 || history > 1000) fail("--history must be a number from 0 to 1000");
  if (!values["notification-url"]) fail("--notification-url is required (the app's ingress.apple.url)");

  const base = process.env.INIT_CWD ?? process.cwd();
  const chain = await loadOrCreateAppleTestChain(resolve(base, ".subgate", "apple-test-chain"));
  const keyDir = resolve(base, ".subgate", "apple-test-api-key");
  const key = await loadOrCreateKey(keyDir);
  const bundleId = values["bundle-id"];
  const fake = await startFakeAppStoreServerApi({
    environment,
    signer: chain,
    keys: [{ issuerId: key.issuerId, keyId: key.keyId, publicKey: createPublicKey(key.privateKeyPem), bundleId, appAppleId }],
    notificationUrl: values["notification-url"],
    port,
  });

  // History: DID_RENEW notifications of the default transaction, one a minute up to now.
  const now = Date.now();
  fake.addHistory(
    Array.from({ length: history }, (_, i) => {
      const sentAt = now - (history - i) * 60_000;
      const signed = signAppleNotification(chain, {
        notificationType: "DID_RENEW",
        environment,
        bundleId,
        signedDate: sentAt,
        ...(environment === "Production" ? { appAppleId } : {}),
        transaction: { bundleId, transactionId: `2000000000${String(900000 + i)}` },
        renewal: {},
      });
      return { signedPayload: signed.signedPayload, sentAt };
    }),
  );

  const block = relative(process.cwd(), join(keyDir, "apple-block.json"));
  console.log(`fake App Store Server API (${environment}) listening on ${fake.url}
  key: issuer_id ${key.issuerId}, key_id ${key.keyId}; the app's apple block to PATCH: ${block}
  TEST notifications go to ${values["notification-url"]}; ${history} notifications in the history
  start the gateway with ${environment === "Sandbox" ? "APP_STORE_SANDBOX_API_BASE_URL" : "APP_STORE_API_BASE_URL"}=${fake.url}`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

async function loadOrCreateKey(dir: string): Promise<StoredKey> {
  const file = join(dir, "key.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as StoredKey;
  const made = await createAppStoreApiKey();
  const key: StoredKey = { issuerId: made.issuerId, keyId: made.keyId, privateKeyPem: made.privateKeyPem };
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  writeFileSync(join(dir, `AuthKey_${key.keyId}.p8`), key.privateKeyPem, { mode: 0o600 });
  // What App Store Connect's three values become in the app's apple block (PATCH /v1/apps/{id}).
  const block = { apple: { issuer_id: key.issuerId, key_id: key.keyId, private_key: key.privateKeyPem } };
  writeFileSync(join(dir, "apple-block.json"), JSON.stringify(block), { mode: 0o600 });
  return key;
}

function fail(message: unknown): never {
  console.error(`apple:fake-api: ${message instanceof Error ? message.message : String(message)}\n\n${USAGE}`);
  process.exit(2);
}

main().catch(fail);
