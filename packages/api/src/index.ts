export type { ApiOptions } from "./context.ts";
export { createApiRouter } from "./router.ts";
