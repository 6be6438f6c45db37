/** An app's Apple configuration, as the adapter uses it. */
export interface AppleConfig {
  bundleId: string;
  /** Apple's numeric id of the app; required for production notifications (Apple leaves it out in sandbox). */
  appAppleId: number | null;
  /** The app-specific shared secret legacy V1 notifications carry in `password`. */
  sharedSecret: string | null;
}

export interface AppleAdapterOptions {
  /** DER certificates the JWS chains must end at. Default: Apple Root CA - G3, shipped with subgate. */
  trustedRoots?: Uint8Array[];
  /** Check chains at the current time with OCSP (APPLE_ONLINE_CHECKS); default: at the payload's signedDate. */
  onlineChecks?: boolean;
  /** OCSP responder to ask instead of the one each certificate names (APPLE_OCSP_URL). */
  ocspUrl?: string | null;
  /**
   * Accept Apple's unsigned `Xcode` and `LocalTesting` payloads (APPLE_ALLOW_LOCAL_ENVIRONMENTS).
   * Local development only: such a payload proves nothing about where it came from.
   */
  allowLocalEnvironments?: boolean;
}
