export * from "./chain.ts";
export * from "./jws.ts";
export * from "./ocsp-responder.ts";
export { APPLE_INTERMEDIATE_OID, APPLE_LEAF_OID, pemOf } from "./x509.ts";
export * from "./notifications.ts";
export * from "./fake-app-store-api.ts";
