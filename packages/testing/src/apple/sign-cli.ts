import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type AppleEnvironmentName, signAppleNotification, TEST_BUNDLE_ID } from "./notifications.ts";
import { loadOrCreateAppleTestChain } from "./stored-chain.ts";

/*
 * `npm run apple:sign`: signs an App Store Server Notification V2 with a local test chain, so a
 * newcomer can send a gateway a notification without Apple. The chain is made once and kept in
 * `.subgate/apple-test-chain/`; a gateway trusts it with APPLE_ROOT_CERTS=<that folder>/root.pem.
 * It proves nothing to a gateway that trusts only Apple's root, which is the point.
 */

const USAGE = `usage: npm run apple:sign -- --type TYPE [options]

Prints the body of a signed V2 notification ({"signedPayload": ...}) on stdout.

  --type TYPE                     notificationType, e.g. SUBSCRIBED, DID_RENEW, TEST
  --subtype SUBTYPE               e.g. INITIAL_BUY, AUTO_RENEW_DISABLED
  --environment ENV               Sandbox (default) or Production
  --bundle-id ID                  default ${TEST_BUNDLE_ID}
  --app-apple-id N                the app's Apple id (production notifications carry it)
  --original-transaction-id ID    default 2000000000000001
  --product-id ID                 default pro.monthly
  --dir PATH                      where the test chain is kept (default .subgate/apple-test-chain)
  --help`;

function main(): void {
  const { values } = parseArgs({
    options: {
      type: { type: "string" },
      subtype: { type: "string" },
      environment: { type: "string", default: "Sandbox" },
      "bundle-id": { type: "string", default: TEST_BUNDLE_ID },
      "app-apple-id": { type: "string" },
      "original-transaction-id": { type: "string", default: "2000000000000001" },
      "product-id": { type: "string", default: "pro.monthly" },
      dir: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  if (!values.type) fail("--type is required");
  if (values.environment !== "Sandbox" && values.environment !== "Production") fail("--environment must be Sandbox or Production");
  const appAppleId = values["app-apple-id"] === undefined ? undefined : Number(values["app-apple-id"]);
  if (appAppleId !== undefined && !Number.isSafeInteger(appAppleId)) fail("--app-apple-id must be a number");

  const base = process.env.INIT_CWD ?? process.cwd();
  const dir = resolve(base, values.dir ?? join(".subgate", "apple-test-chain"));
  loadOrCreateAppleTestChain(dir).then((chain) => {
    const transaction = { originalTransactionId: values["original-transaction-id"], productId: values["product-id"] };
    // Apple's TEST notification concerns no purchase: its data holds no transaction.
    const isTest = values.type === "TEST";
    const signed = signAppleNotification(chain, {
      notificationType: values.type as string,
      ...(values.subtype ? { subtype: values.subtype } : {}),
      environment: values.environment as AppleEnvironmentName,
      bundleId: values["bundle-id"],
      ...(appAppleId === undefined ? {} : { appAppleId }),
      transaction: isTest ? null : { ...transaction, bundleId: values["bundle-id"] },
      // As Apple sends them: renewal is off once the customer turned it off or the subscription expired.
      renewal: isTest ? null : { ...transaction, autoRenewProductId: values["product-id"], autoRenewStatus: renewsAfter(values) ? 1 : 0 },
    });
    console.log(signed.body);
  }, fail);
}

function renewsAfter(values: { type?: string | undefined; subtype?: string | undefined }): boolean {
  return values.subtype !== "AUTO_RENEW_DISABLED" && values.type !== "EXPIRED" && values.type !== "GRACE_PERIOD_EXPIRED";
}

function fail(message: unknown): never {
  console.error(`apple:sign: ${message instanceof Error ? message.message : String(message)}\n\n${USAGE}`);
  process.exit(2);
}

main();
