import { type StoreAdapter, VerificationError } from "../adapter.ts";
import type { AppleAdapterOptions, AppleConfig } from "./config.ts";
import { AppleJwsVerifier, DEFAULT_APPLE_ROOT_CA_G3_PATH, loadTrustedRoots } from "./jws/index.ts";
import { normalizeStoredAppleV1, normalizeStoredAppleV2 } from "./normalize.ts";
import { verifyAppleV1 } from "./v1/verify.ts";
import { verifyAppleV2 } from "./v2/verify.ts";

/**
 * The App Store adapter. One ingress URL per app takes both V2 notifications (`{"signedPayload"}`)
 * and legacy V1 ones (JSON with the shared secret in `password`), for both environments.
 */
export function createAppleAdapter(options: AppleAdapterOptions = {}): StoreAdapter<AppleConfig> {
  const onlineChecks = options.onlineChecks ?? false;
  const verifier = new AppleJwsVerifier({
    trustedRoots: options.trustedRoots ?? loadTrustedRoots(DEFAULT_APPLE_ROOT_CA_G3_PATH),
    onlineChecks,
    ocspUrl: options.ocspUrl ?? null,
  });
  const v2 = { verifier, onlineChecks, allowLocalEnvironments: options.allowLocalEnvironments ?? false };
  return {
    store: "app_store",
    async verify(request, config) {
      const body = parseBody(request.rawBody);
      if (typeof body.signedPayload === "string") return (await verifyAppleV2(body.signedPayload, config, v2)).verified;
      if (typeof body.notification_type === "string") return verifyAppleV1(body, config);
      throw new VerificationError(
        "malformed",
        'the body is neither a V2 notification ({"signedPayload": ...}) nor a V1 one (notification_type)',
      );
    },
    async normalize(notification) {
      const version = notification.verification.version;
      if (version === 2) return normalizeStoredAppleV2(notification);
      if (version === 1) return normalizeStoredAppleV1(notification);
      // Every stored Apple row was verified as one of the two; anything else is not Apple's to read.
      throw new Error(`the stored notification has no Apple verification record (version ${String(version)})`);
    },
  };
}

function parseBody(rawBody: Buffer): Record<string, unknown> {
  let body: unknown;
  try {
    // Fatal: bytes that are not UTF-8 are refused, not read as U+FFFD.
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(rawBody));
  } catch {
    throw new VerificationError("malformed", "the body is not UTF-8 JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new VerificationError("malformed", "the body is not a JSON object");
  return body as Record<string, unknown>;
}
