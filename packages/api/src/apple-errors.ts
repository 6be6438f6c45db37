import { AppError } from "@subgate/core";
import { AppStoreApiError, AppStoreApiNotConfiguredError } from "@subgate/stores";

/**
 * Calls to Apple on the caller's behalf, with Apple's refusals as answers the caller can act on:
 * the app's key refused (fix the key, 422), rate limited (429 with Retry-After), Apple away (503),
 * an unknown token (404), a request Apple refused (400 with Apple's errorCode and errorMessage).
 */
export async function callApple<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw appleErrorAsAnswer(error);
  }
}

export function appleErrorAsAnswer(error: unknown): unknown {
  if (error instanceof AppStoreApiNotConfiguredError) return new AppError("not_configured", error.message);
  if (!(error instanceof AppStoreApiError)) return error;
  const apple = error.errorCode === null ? undefined : { apple_error_code: error.errorCode, apple_error_message: error.errorMessage };
  switch (error.kind) {
    case "unauthorized":
      return new AppError("store_credentials_rejected", error.message, apple);
    case "rate_limited":
      return new AppError("rate_limited", error.message, apple, error.retryAfterMs === null ? 60 : error.retryAfterMs / 1000);
    case "unavailable":
      return new AppError("store_unavailable", error.message, apple, 30);
    case "not_found":
      return new AppError("not_found", error.message, apple);
    case "rejected":
      return new AppError("store_request_rejected", error.message, apple);
  }
}
