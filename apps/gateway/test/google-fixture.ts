import { afterAll, expect } from "vitest";
import { eventually, type WebhookReceiver } from "@subgate/testing";
import {
  createServiceAccountKey,
  developerNotification,
  GOOGLE_TEST_AUDIENCE,
  GOOGLE_TEST_SERVICE_ACCOUNT,
  googlePushBody,
  LocalGoogleOidc,
  startFakePlayApi,
  TEST_PACKAGE_NAME,
  type TestServiceAccountKey,
} from "@subgate/testing/google";
import type { GatewayConfig } from "../src/config.ts";
import { ADMIN_TOKEN, apiClient, postToIngress, type GatewayUrl } from "./harness.ts";

/**
 * Google's side, local and speaking Google's protocols: an OIDC signer whose JWK set the gateway
 * fetches, and an Android Publisher API that checks the service account's self-signed JWT. `key` may
 * read the test package's purchases; `unprivilegedKey` is a real account without that permission.
 */
export async function useGoogleFixture() {
  const oidc = await new LocalGoogleOidc().start();
  const key = await createServiceAccountKey({ email: "subgate-reader@subgate-test.iam.gserviceaccount.com" });
  const unprivilegedKey = await createServiceAccountKey({ email: "no-permission@subgate-test.iam.gserviceaccount.com" });
  const play = await startFakePlayApi({
    accounts: [
      { serviceAccountKey: key, packageNames: [TEST_PACKAGE_NAME] },
      { serviceAccountKey: unprivilegedKey, packageNames: [] },
    ],
  });
  afterAll(async () => {
    await play.close();
    await oidc.close();
  });
  const config: Partial<GatewayConfig> = { playApiBaseUrl: play.url, googleOidcCertsUrl: oidc.url };
  return { oidc, play, key, unprivilegedKey, config };
}

/** The key file as Google Cloud downloads it (without the public half the fake keeps). */
export function keyFile(key: TestServiceAccountKey): Record<string, unknown> {
  const { publicKey: _publicKey, ...file } = key;
  return file;
}

export type GoogleApp = Awaited<ReturnType<typeof createGoogleApp>>;

/** An app with a `google` block (push authentication on unless `authenticated` is false) and a webhook to `receiver`. */
export async function createGoogleApp(
  gateway: GatewayUrl,
  receiver: WebhookReceiver | null,
  google: { key: TestServiceAccountKey | null; authenticated?: boolean; test_environment?: string },
) {
  const block: Record<string, unknown> = { package_name: TEST_PACKAGE_NAME };
  if (google.key) block.service_account_key = keyFile(google.key);
  if (google.authenticated !== false)
    Object.assign(block, { pubsub_audience: GOOGLE_TEST_AUDIENCE, pubsub_service_account_email: GOOGLE_TEST_SERVICE_ACCOUNT });
  if (google.test_environment) block.test_environment = google.test_environment;
  const created = await apiClient(gateway.url as string, ADMIN_TOKEN).post("/v1/apps", { name: "Play", google: block });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const appId = created.body.id as string;
  const api = apiClient(gateway.url as string, created.body.api_key as string);
  if (receiver) expect((await api.post(`/v1/apps/${appId}/webhooks`, { url: receiver.url })).status).toBe(201);
  return { appId, api, googleUrl: created.body.ingress.google.url as string };
}

/** Posts a push as Pub/Sub does: the DeveloperNotification base64 in `message.data`, with an OIDC token unless `token` is null. */
export async function push(
  gateway: GatewayUrl,
  app: GoogleApp,
  oidc: LocalGoogleOidc,
  notification: Record<string, unknown>,
  options: { token?: string | null; messageId?: string } = {},
) {
  const token = options.token === undefined ? await oidc.signToken() : options.token;
  const body = googlePushBody({ notification, ...(options.messageId ? { messageId: options.messageId } : {}) });
  return postToIngress(gateway, app.googleUrl, body, token === null ? {} : { authorization: `Bearer ${token}` });
}

/** A subscription notification of `type` for `purchaseToken`, at `eventTimeMillis` (default now). */
export function subscriptionNotification(type: number, purchaseToken: string, eventTimeMillis = Date.now()) {
  return developerNotification("subscription", { notificationType: type, purchaseToken, eventTimeMillis });
}

/** The inbox row of a stored notification once the worker is done with it. */
export async function settled(app: GoogleApp, notificationId: string) {
  return eventually(
    async () => {
      const rows = (await app.api.get(`/v1/apps/${app.appId}/notifications?store=play_store&limit=100`)).body.data;
      const row = rows.find((entry: { id: string }) => entry.id === notificationId);
      return row && row.state !== "pending" ? row : undefined;
    },
    20_000,
    `notification ${notificationId} processed`,
  );
}

/** The webhook events the receiver got for this app, in arrival order. */
export function eventsOf(receiver: WebhookReceiver, appId: string): any[] {
  return receiver.delivered.map((request) => JSON.parse(request.body).event).filter((event) => event.app_id === appId);
}
