import countries from "i18n-iso-countries";

/**
 * Apple's storefront (`storefront` of a transaction) is an ISO 3166-1 alpha-3 code ("USA"); RevenueCat's
 * `country_code` is alpha-2 ("US"). A storefront the table does not know gives null: an unknown country,
 * not a guess.
 */
export function countryCodeFromStorefront(storefront: string | null | undefined): string | null {
  if (storefront == null || storefront.length !== 3) return null;
  return countries.alpha3ToAlpha2(storefront.toUpperCase()) ?? null;
}
