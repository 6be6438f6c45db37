import type { Store } from "@subgate/schema";

/** The path segment of each store's ingress URL: `/ingress/<segment>/<token>`. */
export const INGRESS_SEGMENTS = { app_store: "apple", play_store: "google", stripe: "stripe" } as const satisfies Record<Store, string>;

export function ingressUrl(publicBaseUrl: string, store: Store, token: string): string {
  return `${publicBaseUrl.replace(/\/+$/, "")}/ingress/${INGRESS_SEGMENTS[store]}/${token}`;
}

export function storeForSegment(segment: string): Store | null {
  const entry = Object.entries(INGRESS_SEGMENTS).find(([, value]) => value === segment);
  return entry ? (entry[0] as Store) : null;
}
