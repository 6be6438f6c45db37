export { APPLE_INTERMEDIATE_OID, APPLE_LEAF_OID } from "./chain.ts";
export { decodeJwsPayloadUnverified } from "./compact.ts";
export { AppleJwsError, type AppleJwsFailure } from "./errors.ts";
export { DEFAULT_APPLE_ROOT_CA_G3_PATH, loadTrustedRoots, type TrustedRootSource } from "./roots.ts";
export { AppleJwsVerifier, type AppleJwsVerifierOptions } from "./verifier.ts";
