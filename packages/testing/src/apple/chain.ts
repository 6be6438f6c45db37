import { KeyObject, type webcrypto } from "node:crypto";
import {
  APPLE_INTERMEDIATE_OID,
  APPLE_LEAF_OID,
  generateEcKeyPair,
  pemOf,
  randomSerial,
  signingAlgorithmFor,
  type TestCurve,
  x509,
} from "./x509.ts";

const DAY_MS = 86_400_000;
const YEAR_MS = 365 * DAY_MS;
/** Apple's marker extensions hold an ASN.1 NULL. */
const ASN1_NULL = new Uint8Array([0x05, 0x00]);

export interface TestValidity {
  notBefore?: Date;
  notAfter?: Date;
}

export interface AppleTestChainOptions {
  /** Put Apple's leaf OID 1.2.840.113635.100.6.11.1 on the leaf. Default true. */
  leafOid?: boolean;
  /** Put Apple's intermediate OID 1.2.840.113635.100.6.2.1 on the intermediate. Default true. */
  intermediateOid?: boolean;
  /** Give the intermediate basicConstraints cA true. Default true. */
  intermediateIsCa?: boolean;
  /** Validity windows. Defaults: root now ± 10 y, intermediate now ± 5 y, leaf now ± 1 y. */
  validity?: { root?: TestValidity; intermediate?: TestValidity; leaf?: TestValidity };
  /** Sign the leaf with a key other than the intermediate's (its issuer name still names the intermediate). */
  leafSignedByStranger?: boolean;
  /** The leaf's key curve. Default P-256; P-384 is for refusing ES384. */
  leafCurve?: TestCurve;
  /**
   * The OCSP responder written into the AIA extension: one URL for both certificates, or one per
   * certificate. Default: no AIA extension.
   */
  ocspUrl?: string | { leaf?: string; intermediate?: string };
  /** Issue under the root (same key and certificate) of an existing chain instead of a new root. */
  underRootOf?: AppleTestChain;
}

export interface AppleTestCert {
  der: Uint8Array;
  pem: string;
  /** Standard base64 of the DER, as `x5c` carries it. */
  base64: string;
  x509: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
}

export interface AppleTestChain {
  root: AppleTestCert;
  intermediate: AppleTestCert;
  leaf: AppleTestCert;
  /** The leaf's private key, as node:crypto signs with it. */
  leafPrivateKey: KeyObject;
  /** DER of the root, what a verifier is configured to trust. */
  rootDer: Uint8Array;
  /** [leaf, intermediate, root], standard base64, the order Apple's `x5c` header uses. */
  x5c: [string, string, string];
}

function toTestCert(cert: x509.X509Certificate, keys: webcrypto.CryptoKeyPair): AppleTestCert {
  const der = new Uint8Array(cert.rawData);
  return { der, pem: pemOf(der), base64: Buffer.from(der).toString("base64"), x509: cert, keys };
}

function window(validity: TestValidity | undefined, before: number, after: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: validity?.notBefore ?? new Date(now - before), notAfter: validity?.notAfter ?? new Date(now + after) };
}

function aia(url: string | undefined): x509.Extension[] {
  return url === undefined ? [] : [new x509.AuthorityInfoAccessExtension({ ocsp: [new x509.GeneralName("url", url)] })];
}

async function createRoot(validity: TestValidity | undefined): Promise<AppleTestCert> {
  const keys = await generateEcKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=Test Apple Root CA - G3, OU=Test Certification Authority, O=subgate tests, C=US",
    ...window(validity, 10 * YEAR_MS, 10 * YEAR_MS),
    keys,
    signingAlgorithm: signingAlgorithmFor(keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return toTestCert(cert, keys);
}

/**
 * A root, an intermediate and a leaf shaped like Apple's App Store signing chain (P-256,
 * ECDSA-SHA256, Apple's marker OIDs), generated with real keys; options break one property at a time.
 */
export async function createAppleTestChain(options: AppleTestChainOptions = {}): Promise<AppleTestChain> {
  const ocsp = typeof options.ocspUrl === "string" ? { leaf: options.ocspUrl, intermediate: options.ocspUrl } : (options.ocspUrl ?? {});
  const root = options.underRootOf?.root ?? (await createRoot(options.validity?.root));

  const intermediateKeys = await generateEcKeyPair();
  const intermediateIsCa = options.intermediateIsCa ?? true;
  const intermediateCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: "CN=Test Apple Worldwide Developer Relations Certification Authority, OU=G6, O=subgate tests, C=US",
    issuer: root.x509.subjectName,
    ...window(options.validity?.intermediate, 5 * YEAR_MS, 5 * YEAR_MS),
    publicKey: intermediateKeys.publicKey,
    signingKey: root.keys.privateKey,
    signingAlgorithm: signingAlgorithmFor(root.keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(intermediateIsCa, intermediateIsCa ? 0 : undefined, true),
      new x509.KeyUsagesExtension(
        intermediateIsCa ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(intermediateKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(root.keys.publicKey),
      ...aia(ocsp.intermediate),
      ...((options.intermediateOid ?? true) ? [new x509.Extension(APPLE_INTERMEDIATE_OID, false, ASN1_NULL)] : []),
    ],
  });
  const intermediate = toTestCert(intermediateCert, intermediateKeys);

  const leafKeys = await generateEcKeyPair(options.leafCurve ?? "P-256");
  const leafSigningKey = options.leafSignedByStranger ? (await generateEcKeyPair()).privateKey : intermediateKeys.privateKey;
  const leafCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject:
      "CN=Test Prod ECC Mac App Store and iTunes Store Receipt Signing, OU=Apple Worldwide Developer Relations, O=subgate tests, C=US",
    issuer: intermediateCert.subjectName,
    ...window(options.validity?.leaf, YEAR_MS, YEAR_MS),
    publicKey: leafKeys.publicKey,
    signingKey: leafSigningKey,
    signingAlgorithm: signingAlgorithmFor(leafSigningKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(intermediateKeys.publicKey),
      ...aia(ocsp.leaf),
      ...((options.leafOid ?? true) ? [new x509.Extension(APPLE_LEAF_OID, false, ASN1_NULL)] : []),
    ],
  });
  const leaf = toTestCert(leafCert, leafKeys);

  return {
    root,
    intermediate,
    leaf,
    leafPrivateKey: KeyObject.from(leafKeys.privateKey),
    rootDer: root.der,
    x5c: [leaf.base64, intermediate.base64, root.base64],
  };
}
