export * from "./oidc-signer.ts";
export * from "./push.ts";
export * from "./fake-play-api.ts";
