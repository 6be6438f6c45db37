import type { AppleAdapterOptions } from "./apple/config.ts";
import { createAppleModule } from "./apple/module.ts";
import type { GoogleAdapterOptions } from "./google/config.ts";
import { createGoogleModule } from "./google/module.ts";
import { StoreRegistry } from "./registry.ts";
import type { StripeAdapterOptions } from "./stripe/config.ts";
import { createStripeModule } from "./stripe/module.ts";

export interface StoreRegistryOptions {
  apple?: AppleAdapterOptions;
  google?: GoogleAdapterOptions;
  stripe?: StripeAdapterOptions;
}

/** Every store this build knows, wired to its deployment options (API base URLs, trust roots). */
export function createStoreRegistry(options: StoreRegistryOptions = {}): StoreRegistry {
  return new StoreRegistry([createAppleModule(options.apple), createGoogleModule(options.google), createStripeModule(options.stripe)]);
}
