// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API
// installed before the library is evaluated: this import must stay above the x509 one.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { type KeyObject, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

/**
 * One X.509 certificate, read once into what the chain and OCSP checks need. Three readers, each for
 * what it does best: node:crypto checks signatures and gives the KeyObject the hot path verifies
 * with; @peculiar/x509 reads extensions (Node 20 does not expose them); pkijs keeps the exact DER of
 * the names and the key, which comparisons and OCSP CertIDs need byte for byte.
 */
export interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly node: X509Certificate;
  readonly publicKey: KeyObject;
  readonly pkijs: pkijs.Certificate;
  /** DER of the subject and issuer Names. */
  readonly subject: Uint8Array;
  readonly issuer: Uint8Array;
  /** The contents of the subjectPublicKey BIT STRING (what OCSP's issuerKeyHash hashes). */
  readonly subjectPublicKey: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly extensionOids: ReadonlySet<string>;
  /** basicConstraints cA is true, as both @peculiar/x509 and OpenSSL read it. */
  readonly isCa: boolean;
  /** The authorityInfoAccess OCSP responder URLs. */
  readonly ocspUrls: readonly string[];
  readonly extendedKeyUsages: readonly string[];
}

/** Parses one DER certificate; throws a plain Error (the caller decides what the failure means). */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const node = new X509Certificate(der);
  // OpenSSL and asn1js both stop at the end of the certificate: bytes after it are refused, not ignored.
  const asn = asn1js.fromBER(der);
  if (asn.offset !== der.byteLength || node.raw.byteLength !== der.byteLength) throw new Error("trailing bytes after the certificate");
  const pk = new pkijs.Certificate({ schema: asn.result });
  const peculiar = new x509.X509Certificate(der);

  const basicConstraints = peculiar.getExtension(x509.BasicConstraintsExtension);
  const aia = peculiar.getExtension(x509.AuthorityInfoAccessExtension);
  const eku = peculiar.getExtension(x509.ExtendedKeyUsageExtension);
  return {
    der,
    node,
    publicKey: node.publicKey,
    pkijs: pk,
    subject: new Uint8Array(pk.subject.valueBeforeDecode),
    issuer: new Uint8Array(pk.issuer.valueBeforeDecode),
    subjectPublicKey: new Uint8Array(pk.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
    notBefore: peculiar.notBefore.getTime(),
    notAfter: peculiar.notAfter.getTime(),
    extensionOids: new Set(peculiar.extensions.map((extension) => extension.type)),
    isCa: basicConstraints?.ca === true && node.ca,
    ocspUrls: (aia?.ocsp ?? []).filter((name) => name.type === "url").map((name) => name.value),
    extendedKeyUsages: (eku?.usages ?? []).map(String),
  };
}

/** Whether `issuer` issued `cert`: the names match byte for byte and its key verifies the signature. */
export function isIssuedBy(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
  if (!Buffer.from(cert.issuer).equals(issuer.subject)) return false;
  try {
    return cert.node.verify(issuer.publicKey);
  } catch {
    // OpenSSL refuses a key of the wrong type outright; that is "not issued by", not a crash.
    return false;
  }
}
