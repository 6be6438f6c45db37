/*
 * What PUBLIC_BASE_URL says about whether the stores can deliver at all, told once at start: the
 * gateway runs either way (a local one behind no TLS is normal in development), but an operator
 * waiting for App Store notifications should know they cannot arrive.
 */

export const NOT_HTTPS_WARNING =
  "Apple and Google Play only deliver to https URLs: stores cannot reach this gateway until PUBLIC_BASE_URL is an https URL behind TLS 1.2+";

/** Apple posts to port 443 and to ports 1024 and up, nowhere else. */
function appleRefusesPort(port: number): boolean {
  return port !== 443 && port < 1024;
}

/** The warnings for a PUBLIC_BASE_URL (already checked to be an http or https URL); none when stores can reach it. */
export function publicUrlWarnings(publicBaseUrl: string): string[] {
  const url = new URL(publicBaseUrl);
  const warnings: string[] = [];
  if (url.protocol !== "https:") warnings.push(NOT_HTTPS_WARNING);
  // `port` is "" when the URL names none, or names its scheme's default (443 for https).
  if (url.port !== "" && appleRefusesPort(Number(url.port))) {
    warnings.push(
      `PUBLIC_BASE_URL names port ${url.port}: Apple only delivers to port 443 or ports 1024 and up, so App Store notifications cannot reach this gateway`,
    );
  }
  return warnings;
}
