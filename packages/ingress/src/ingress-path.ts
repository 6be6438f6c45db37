/** An ingress URL: `<PUBLIC_BASE_URL>/ingress/<the store module's segment>/<token>`. */
export function ingressUrl(publicBaseUrl: string, segment: string, token: string): string {
  return `${publicBaseUrl.replace(/\/+$/, "")}/ingress/${segment}/${token}`;
}
