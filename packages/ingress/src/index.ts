export * from "./address-allow-list.ts";
export * from "./ingress-path.ts";
export * from "./kept-headers.ts";
export * from "./router.ts";
