export * from "./oidc-signer.ts";
export * from "./push.ts";
