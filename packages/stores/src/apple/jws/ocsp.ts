import { createHash, verify, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { isIssuedBy, type ParsedCertificate, parseCertificate } from "./certificate.ts";
import { AppleJwsError, unauthenticated } from "./errors.ts";

const SHA256_OID = "2.16.840.1.101.3.4.2.1";
const OCSP_BASIC_OID = "1.3.6.1.5.5.7.48.1.1";
const OCSP_SIGNING_EKU = "1.3.6.1.5.5.7.3.9";
/** Clock skew allowed around the responder's thisUpdate/nextUpdate, as Apple's App Store Server Library allows. */
const MAX_SKEW_MS = 60_000;
/** An OCSP answer for one certificate is a few kB; anything far larger is not one. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Signature algorithms a responder may use (ECDSA and RSA PKCS#1 v1.5 with SHA-2), by OID. */
const SIGNATURE_HASH: Readonly<Record<string, string>> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};

export interface OcspCheck {
  cert: ParsedCertificate;
  issuer: ParsedCertificate;
  /** "leaf" or "intermediate", for reasons. */
  what: string;
  /** Responder to ask instead of the one the certificate names. */
  urlOverride: string | null;
  timeoutMs: number;
  now: number;
}

interface CertIdBytes {
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  serialNumber: Uint8Array;
}

/**
 * Asks the certificate's OCSP responder (RFC 6960) whether it is revoked. Resolves only for a
 * "good" answer, fresh and signed by the issuer (or a responder the issuer delegated with
 * id-kp-OCSPSigning). A responder that cannot be reached, or answers an HTTP error, tryLater or
 * internalError, is `retryable`: the answer is unknown, not negative. Everything else is
 * `unauthenticated`.
 */
export async function checkOcsp(check: OcspCheck): Promise<void> {
  const url = check.urlOverride ?? check.cert.ocspUrls[0];
  if (url === undefined) throw unauthenticated(`the ${check.what} certificate names no OCSP responder`);
  if (!/^https?:\/\//i.test(url)) throw unauthenticated(`the ${check.what} certificate's OCSP responder is not an http(s) URL`);
  const certId = certIdOf(check.cert, check.issuer);
  const response = await post(url, encodeRequest(certId), check.timeoutMs, check.what);
  verifyResponse(response, certId, check);
}

function certIdOf(cert: ParsedCertificate, issuer: ParsedCertificate): CertIdBytes {
  return {
    issuerNameHash: createHash("sha256").update(issuer.subject).digest(),
    issuerKeyHash: createHash("sha256").update(issuer.subjectPublicKey).digest(),
    serialNumber: cert.pkijs.serialNumber.valueBlock.valueHexView,
  };
}

function encodeRequest(certId: CertIdBytes): Uint8Array {
  const request = new pkijs.OCSPRequest();
  request.tbsRequest.requestList = [
    new pkijs.Request({
      reqCert: new pkijs.CertID({
        hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: SHA256_OID, algorithmParams: new asn1js.Null() }),
        issuerNameHash: new asn1js.OctetString({ valueHex: certId.issuerNameHash }),
        issuerKeyHash: new asn1js.OctetString({ valueHex: certId.issuerKeyHash }),
        serialNumber: new asn1js.Integer({ valueHex: certId.serialNumber }),
      }),
    }),
  ];
  return new Uint8Array(request.toSchema(true).toBER());
}

function unreachable(what: string, detail: string): AppleJwsError {
  return new AppleJwsError("retryable", `OCSP responder unreachable for the ${what} certificate: ${detail}`);
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return `no answer within ${timeoutMs} ms`;
  // fetch reports "fetch failed" and puts what happened (ECONNREFUSED, a TLS error, ...) in cause.
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message.slice(0, 200);
  return error instanceof Error ? error.message.slice(0, 200) : "network error";
}

async function post(url: string, body: Uint8Array, timeoutMs: number, what: string): Promise<Uint8Array> {
  // One deadline for connecting, the answer and its body.
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request", accept: "application/ocsp-response" },
      body,
      signal,
    });
    if (!response.ok) {
      await response.body?.cancel();
      // Any HTTP error leaves revocation unknown; Apple's App Store Server Library retries on all of them.
      throw unreachable(what, `HTTP ${response.status}`);
    }
    return await readCapped(response, what);
  } catch (error) {
    if (error instanceof AppleJwsError) throw error;
    throw unreachable(what, describeFetchError(error, timeoutMs));
  }
}

async function readCapped(response: Response, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body === null) return new Uint8Array(0);
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await response.body.cancel();
      throw unauthenticated(`OCSP (${what}): the response is larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Parses DER into a pkijs type, refusing trailing bytes. */
function parseExact<T>(der: Uint8Array, type: new (params: { schema: unknown }) => T): T {
  const asn = asn1js.fromBER(der);
  if (asn.offset !== der.byteLength) throw new Error("not one DER value");
  return new type({ schema: asn.result });
}

function verifyResponse(der: Uint8Array, expected: CertIdBytes, check: OcspCheck): void {
  const fail = (why: string) => unauthenticated(`OCSP (${check.what}): ${why}`);
  let basic: pkijs.BasicOCSPResponse;
  try {
    const response = parseExact(der, pkijs.OCSPResponse);
    const status = response.responseStatus.valueBlock.valueDec;
    // internalError (2) and tryLater (3): the responder is up but cannot answer now.
    if (status === 2 || status === 3) throw unreachable(check.what, status === 3 ? "tryLater" : "internalError");
    if (status !== 0) throw fail(`the responder refused the request (OCSPResponseStatus ${status})`);
    const bytes = response.responseBytes;
    if (bytes === undefined || bytes.responseType !== OCSP_BASIC_OID) throw fail("the response is not a basic OCSP response");
    basic = parseExact(bytes.response.valueBlock.valueHexView, pkijs.BasicOCSPResponse);
  } catch (error) {
    if (error instanceof AppleJwsError) throw error;
    throw fail("the response is not a DER OCSP response");
  }

  const hash = SIGNATURE_HASH[basic.signatureAlgorithm.algorithmId];
  if (hash === undefined) throw fail(`unsupported signature algorithm ${basic.signatureAlgorithm.algorithmId}`);
  const signerKey = responderKey(basic, check, fail);
  const signature = basic.signature.valueBlock;
  if (signature.unusedBits !== 0 || !verify(hash, basic.tbsResponseData.tbsView, signerKey, signature.valueHexView)) {
    throw fail("the response signature does not verify");
  }

  const single = basic.tbsResponseData.responses.find((candidate) => coversCertificate(candidate.certID, expected));
  if (single === undefined) throw fail("the response does not cover the certificate");
  const status = single.certStatus as asn1js.BaseBlock;
  if (status.idBlock.tagClass !== 3 || status.idBlock.tagNumber !== 0) {
    throw fail(
      status.idBlock.tagClass === 3 && status.idBlock.tagNumber === 1
        ? "the certificate is revoked"
        : "the certificate's status is unknown",
    );
  }
  if (single.thisUpdate.getTime() > check.now + MAX_SKEW_MS) throw fail("the response's thisUpdate is in the future");
  // Without nextUpdate a response carries no freshness bound; Apple's responders always send one.
  if (single.nextUpdate === undefined) throw fail("the response has no nextUpdate");
  if (single.nextUpdate.getTime() < check.now - MAX_SKEW_MS) throw fail("the response is stale (nextUpdate has passed)");
}

function coversCertificate(certId: pkijs.CertID, expected: CertIdBytes): boolean {
  return (
    certId.hashAlgorithm.algorithmId === SHA256_OID &&
    expected.issuerNameHash.equals(certId.issuerNameHash.valueBlock.valueHexView) &&
    expected.issuerKeyHash.equals(certId.issuerKeyHash.valueBlock.valueHexView) &&
    Buffer.from(expected.serialNumber).equals(certId.serialNumber.valueBlock.valueHexView)
  );
}

/**
 * The key the response must be signed with: the issuer's own, or that of a certificate in the
 * response that the responderID names, which the issuer issued, which carries id-kp-OCSPSigning and
 * which is valid now (RFC 6960 §4.2.2.2). A responder Apple did not authorize is refused.
 */
function responderKey(basic: pkijs.BasicOCSPResponse, check: OcspCheck, fail: (why: string) => AppleJwsError): KeyObject {
  const responderId: unknown = basic.tbsResponseData.responderID;
  const names = (subject: Uint8Array, subjectPublicKey: Uint8Array): boolean => {
    if (responderId instanceof pkijs.RelativeDistinguishedNames)
      return Buffer.from(subject).equals(new Uint8Array(responderId.valueBeforeDecode));
    if (responderId instanceof asn1js.OctetString) {
      return createHash("sha1").update(subjectPublicKey).digest().equals(responderId.valueBlock.valueHexView);
    }
    return false;
  };

  const { issuer } = check;
  if (names(issuer.subject, issuer.subjectPublicKey)) return issuer.publicKey;
  for (const embedded of basic.certs ?? []) {
    let candidate: ParsedCertificate;
    try {
      candidate = parseCertificate(new Uint8Array(embedded.toSchema().toBER()));
    } catch {
      continue;
    }
    if (!names(candidate.subject, candidate.subjectPublicKey)) continue;
    if (!isIssuedBy(candidate, issuer)) throw fail("the responder certificate is not issued by the certificate's issuer");
    if (!candidate.extendedKeyUsages.includes(OCSP_SIGNING_EKU)) throw fail("the responder certificate lacks the id-kp-OCSPSigning EKU");
    if (candidate.notBefore > check.now + MAX_SKEW_MS || candidate.notAfter < check.now - MAX_SKEW_MS) {
      throw fail("the responder certificate is not valid now");
    }
    return candidate.publicKey;
  }
  throw fail("the response is not signed by the issuer or a responder it delegated");
}
