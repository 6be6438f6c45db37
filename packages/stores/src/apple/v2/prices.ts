import type { AppleTransaction } from "./payloads.ts";

/*
 * Apple's `price` is the amount in milliunits of `currency` (9990 is 9.99), whatever the currency's own
 * decimals; `revocationPercentage` is a percentage in milliunits (100000 is 100 %, 67932 is 67.932 %).
 * Apple warns the two are not for revenue reconciliation; they are what the events can say.
 */

/** 100 % in `revocationPercentage` units. */
const FULL_REVOCATION = 100_000;

export interface EventMoney {
  price: number | null;
  price_in_purchased_currency: number;
  currency: string;
}

/** 9990 → 9.99. Rounded to Apple's own precision (three decimals) to drop float noise; `+ 0` turns -0 into 0. */
export function milliunitsToDecimal(milliunits: number): number {
  return Number((milliunits / 1000).toFixed(3)) + 0;
}

/** `price` is the USD amount: known when Apple charged in USD (or nothing at all); subgate converts no currency. */
function eventMoney(milliunits: number, currency: string): EventMoney {
  const amount = milliunitsToDecimal(milliunits);
  const code = currency.toUpperCase();
  return { price: code === "USD" || amount === 0 ? amount : null, price_in_purchased_currency: amount, currency: code };
}

/** What the transaction charged; nothing when it does not say (a transaction without price or currency). */
export function purchaseMoney(transaction: AppleTransaction): EventMoney | null {
  if (transaction.price === undefined || transaction.currency === undefined) return null;
  return eventMoney(transaction.price, transaction.currency);
}

/**
 * What a refund gave back, negative (RevenueCat's convention): the whole price, or its
 * `revocationPercentage` for a prorated refund (`revocationType` REFUND_PRORATED). Rounded to a whole
 * milliunit, Apple's precision.
 */
export function refundMoney(transaction: AppleTransaction): EventMoney | null {
  if (transaction.price === undefined || transaction.currency === undefined) return null;
  const share = transaction.revocationPercentage ?? FULL_REVOCATION;
  const refunded = Math.round((transaction.price * share) / FULL_REVOCATION);
  return eventMoney(-refunded, transaction.currency);
}
