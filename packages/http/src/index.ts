// @subgate/http: what every HTTP route of subgate shares (the ingress and the API): bounded body
// reading, request ids, and the one handler that turns errors into answers.
export * from "./body.ts";
export * from "./errors.ts";
export * from "./request-ids.ts";
