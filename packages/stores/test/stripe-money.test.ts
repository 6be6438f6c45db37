import { describe, expect, it } from "vitest";
import { eventMoney, toDecimalAmount } from "../src/stripe/money.ts";

describe("Stripe amounts → decimal amounts", () => {
  it.each([
    [999, "usd", 9.99],
    [999, "EUR", 9.99],
    [1_200, "jpy", 1_200],
    [50_000, "krw", 50_000],
    [5_120, "kwd", 5.12],
    [123_400, "isk", 1_234], // two-decimal in the API although whole krónur in practice
    [-999, "usd", -9.99],
    [0, "usd", 0],
  ] as const)("%d %s → %d", (minor, currency, expected) => {
    expect(toDecimalAmount(minor, currency)).toBe(expected);
  });

  it("keeps float noise out (0.1 + 0.2 style)", () => {
    expect(toDecimalAmount(30, "usd")).toBe(0.3);
    expect(toDecimalAmount(1_999_999, "usd")).toBe(19_999.99);
  });

  it("gives a USD price only for USD (or nothing), and an upper-case currency", () => {
    expect(eventMoney(999, "usd")).toEqual({ price: 9.99, price_in_purchased_currency: 9.99, currency: "USD" });
    expect(eventMoney(999, "gbp")).toEqual({ price: null, price_in_purchased_currency: 9.99, currency: "GBP" });
    expect(eventMoney(0, "gbp")).toEqual({ price: 0, price_in_purchased_currency: 0, currency: "GBP" });
    expect(Object.is(eventMoney(-0, "usd").price, 0)).toBe(true);
  });
});
