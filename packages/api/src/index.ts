export type { ApiOptions } from "./context.ts";
export { errorHandler, notFoundHandler } from "./http-errors.ts";
export { createApiRouter } from "./router.ts";
