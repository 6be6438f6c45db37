import type { PeriodType } from "@subgate/schema";

/** Apple's `offerType` values (JWSTransactionDecodedPayload). */
export const OFFER_TYPE = { introductory: 1, promotional: 2, offerCode: 3, winBack: 4 } as const;

export interface AppleOffer {
  offerType?: number | undefined;
  offerDiscountType?: string | undefined;
}

/**
 * RevenueCat's `period_type` from the offer a transaction was bought with. A free period is a trial
 * whatever kind of offer gave it (an offer code or a win-back offer can be a free trial too); an
 * introductory price paid as you go or up front is INTRO; any other offer (promotional, offer code,
 * win-back, or a kind Apple adds later) is PROMOTIONAL; no offer is NORMAL. An introductory offer without
 * `offerDiscountType` (transactions older than that field) counts as INTRO: nothing says it was free.
 */
export function periodTypeOfOffer(offer: AppleOffer): PeriodType {
  if (offer.offerType === undefined) return "NORMAL";
  if (offer.offerDiscountType === "FREE_TRIAL") return "TRIAL";
  return offer.offerType === OFFER_TYPE.introductory ? "INTRO" : "PROMOTIONAL";
}
