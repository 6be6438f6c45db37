/*
 * Stripe amounts are integers in the currency's smallest unit; RevenueCat-style events carry decimals.
 * Source: https://docs.stripe.com/currencies ("Zero-decimal currencies", "Three-decimal currencies",
 * "Special cases"). ISK, HUF and TWD are whole-unit in practice but remain two-decimal in the API
 * (an ISK amount of 100 is 1 króna), so they are not listed here.
 */
const ZERO_DECIMAL = new Set([
  "bif",
  "clp",
  "djf",
  "gnf",
  "jpy",
  "kmf",
  "krw",
  "mga",
  "pyg",
  "rwf",
  "ugx",
  "vnd",
  "vuv",
  "xaf",
  "xof",
  "xpf",
]);
const THREE_DECIMAL = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

function decimalsOf(currency: string): number {
  const code = currency.toLowerCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

/** 999 usd → 9.99; 500 jpy → 500; 5120 kwd → 5.12. Rounded to the currency's decimals to drop float noise. */
export function toDecimalAmount(minorUnits: number, currency: string): number {
  const decimals = decimalsOf(currency);
  // `+ 0` turns a -0 (a zero refund) into 0.
  return Number((minorUnits / 10 ** decimals).toFixed(decimals)) + 0;
}

export interface EventMoney {
  price: number | null;
  price_in_purchased_currency: number;
  currency: string;
}

/**
 * The money fields of an event. `price` is the USD amount: known when Stripe charged in USD (or nothing
 * at all); subgate does not convert currencies, so otherwise null.
 */
export function eventMoney(minorUnits: number, currency: string): EventMoney {
  const amount = toDecimalAmount(minorUnits, currency);
  return {
    price: currency.toLowerCase() === "usd" || amount === 0 ? amount : null,
    price_in_purchased_currency: amount,
    currency: currency.toUpperCase(),
  };
}
