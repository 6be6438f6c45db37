import type { KeyObject } from "node:crypto";
import { isIssuedBy, type ParsedCertificate, parseCertificate } from "./certificate.ts";
import { malformed, unauthenticated } from "./errors.ts";

/** Apple's marker extension on the App Store's receipt signing leaf certificates. */
export const APPLE_LEAF_OID = "1.2.840.113635.100.6.11.1";
/** Apple's marker extension on the Worldwide Developer Relations intermediate CA. */
export const APPLE_INTERMEDIATE_OID = "1.2.840.113635.100.6.2.1";

/** A leaf and intermediate proven to chain to a trusted root; nothing about time yet. */
export interface VerifiedChain {
  leaf: ParsedCertificate;
  intermediate: ParsedCertificate;
  root: ParsedCertificate;
  /** When all three certificates are valid: the intersection of their notBefore..notAfter. */
  validFrom: number;
  validTo: number;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** One `x5c` entry: standard base64 (RFC 7515 §4.1.6, not base64url) of a DER certificate. */
function certificateFromX5c(value: string, what: string): ParsedCertificate {
  // Re-encoding must give the same text: Node's decoder skips foreign characters and accepts both alphabets.
  const der = BASE64.test(value) ? Buffer.from(value, "base64") : null;
  if (der === null || der.toString("base64") !== value) throw malformed(`x5c: the ${what} certificate is not base64`);
  try {
    return parseCertificate(der);
  } catch {
    throw malformed(`x5c: the ${what} certificate is not a DER X.509 certificate`);
  }
}

/**
 * Apple's chain rules, as Apple's App Store Server Library applies them: only the leaf (x5c[0]) and
 * the intermediate (x5c[1]) are read, the root in x5c[2] is never trusted; the intermediate must be
 * issued by a configured root and be a CA, the leaf issued by the intermediate, and each must carry
 * Apple's marker OID. Dates are left to the caller, which checks them against each JWS.
 */
export function verifyChain(leafX5c: string, intermediateX5c: string, roots: readonly ParsedCertificate[]): VerifiedChain {
  const leaf = certificateFromX5c(leafX5c, "leaf");
  const intermediate = certificateFromX5c(intermediateX5c, "intermediate");

  const root = roots.find((candidate) => isIssuedBy(intermediate, candidate));
  if (root === undefined) throw unauthenticated("the chain does not end at a trusted root");
  if (!intermediate.isCa) throw unauthenticated("the intermediate certificate is not a CA");
  if (!isIssuedBy(leaf, intermediate)) throw unauthenticated("the leaf certificate is not issued by the intermediate");
  if (!leaf.extensionOids.has(APPLE_LEAF_OID)) throw unauthenticated(`the leaf certificate lacks Apple's OID ${APPLE_LEAF_OID}`);
  if (!intermediate.extensionOids.has(APPLE_INTERMEDIATE_OID)) {
    throw unauthenticated(`the intermediate certificate lacks Apple's OID ${APPLE_INTERMEDIATE_OID}`);
  }
  if (!isP256(leaf.publicKey)) throw unauthenticated("the leaf certificate's key is not an EC P-256 key, as ES256 needs");

  return {
    leaf,
    intermediate,
    root,
    validFrom: Math.max(leaf.notBefore, intermediate.notBefore, root.notBefore),
    validTo: Math.min(leaf.notAfter, intermediate.notAfter, root.notAfter),
  };
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1";
}
