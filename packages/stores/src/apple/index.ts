export { createAppleAdapter } from "./adapter.ts";
export type { AppleAdapterOptions, AppleConfig } from "./config.ts";
export { AppleJwsVerifier, DEFAULT_APPLE_ROOT_CA_G3_PATH, loadTrustedRoots } from "./jws/index.ts";
export { AppleConfigSchema, createAppleModule } from "./module.ts";
export { verifyAppleV2 } from "./v2/verify.ts";
