import type { Environment } from "@subgate/schema";

/** A service account's JSON key, as Google Cloud downloads it (the fields subgate uses). */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
  token_uri?: string;
}

/** An app's Google Play configuration, as the adapter uses it. */
export interface GoogleConfig {
  packageName: string;
  /** With `pubsubServiceAccountEmail`: every push must carry an OIDC token for this audience. */
  pubsubAudience: string | null;
  pubsubServiceAccountEmail: string | null;
  /** Reads purchases from the Android Publisher API; null: notifications stay unresolved. */
  serviceAccountKey: ServiceAccountKey | null;
  /** Where Google's test notifications (which name no environment) are filed. */
  testEnvironment: Environment;
}

export interface GoogleAdapterOptions {
  /** The Android Publisher API root (PLAY_API_BASE_URL). Default: Google's. */
  playApiBaseUrl?: string;
  /** Google's JWK set that signs Pub/Sub push OIDC tokens (GOOGLE_OIDC_CERTS_URL). Default: Google's. */
  oidcCertsUrl?: string;
}

export const GOOGLE_DEFAULTS = {
  playApiBaseUrl: "https://androidpublisher.googleapis.com",
  oidcCertsUrl: "https://www.googleapis.com/oauth2/v3/certs",
} as const;
