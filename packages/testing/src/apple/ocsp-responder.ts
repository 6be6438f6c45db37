import { createHash, type webcrypto } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { AppleTestCert, AppleTestChain } from "./chain.ts";
import { generateEcKeyPair, randomSerial, signingAlgorithmFor, x509 } from "./x509.ts";

export type OcspTestStatus = "good" | "revoked" | "unknown";

/**
 * Who signs the answers:
 * - issuer: the issuer of the certificate asked about (Apple's responders do this);
 * - delegated: a responder certificate the issuer issued, with the id-kp-OCSPSigning EKU, sent in `certs`;
 * - delegated-without-eku: the same without the EKU (a responder must refuse it);
 * - stranger: a key nobody issued, while the answer names the issuer as responder.
 */
export type OcspTestSigner = "issuer" | "delegated" | "delegated-without-eku" | "stranger";

export interface RecordedOcspRequest {
  path: string;
  method: string;
  contentType: string | undefined;
  /** Hex serial numbers of the certificates asked about. */
  serialNumbers: string[];
}

const SHA1_OID = "1.3.14.3.2.26";
const SHA256_OID = "2.16.840.1.101.3.4.2.1";
const OCSP_BASIC_OID = "1.3.6.1.5.5.7.48.1.1";

interface Issuer {
  cert: AppleTestCert;
  pkijs: pkijs.Certificate;
  nameHash: Record<string, string>;
  keyHash: Record<string, string>;
}

interface Signer {
  key: webcrypto.CryptoKey;
  name: pkijs.RelativeDistinguishedNames;
  certs: pkijs.Certificate[];
}

function digest(oid: string, data: Uint8Array): string {
  return createHash(oid === SHA1_OID ? "sha1" : "sha256")
    .update(data)
    .digest("hex");
}

function hex(view: Uint8Array): string {
  return Buffer.from(view).toString("hex");
}

/**
 * An OCSP responder on 127.0.0.1 that answers with real, signed BasicOCSPResponses (RFC 6960) for the
 * certificates of the chains it was given: each answer is signed by the issuer of the certificate
 * asked about, unless `signer` says otherwise. Statuses are "good" unless set; it can be made to
 * answer an HTTP error (`httpStatus`) or be closed, and it records every request.
 */
export class LocalOcspResponder {
  readonly requests: RecordedOcspRequest[] = [];
  url = "";
  /** Answer this HTTP status with an empty body instead of an OCSP response; null: answer normally. */
  httpStatus: number | null = null;
  signer: OcspTestSigner = "issuer";
  /** Flip a bit of the signature. */
  corruptSignature = false;
  /** thisUpdate/nextUpdate of the answers. Default: now and now + 1 h; nextUpdate null leaves it out. */
  times: { thisUpdate?: Date; nextUpdate?: Date | null } = {};
  /** OCSPResponseStatus to answer instead of successful (0), e.g. 3 tryLater or 6 unauthorized. */
  responseStatus = 0;
  /** Wait this long before answering (timeouts, parallelism). */
  delayMs = 0;

  private readonly issuers: Issuer[] = [];
  private readonly statuses = new Map<string, OcspTestStatus>();
  private readonly delegatedSigners = new Map<string, Signer>();
  private server: Server | null = null;
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", async () => {
        if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
        this.answer(req.url ?? "/", req.method ?? "GET", req.headers["content-type"], Buffer.concat(chunks)).then(
          ({ status, body }) => res.writeHead(status, { "content-type": "application/ocsp-response" }).end(body),
          (error: unknown) => res.writeHead(400, { "content-type": "text/plain" }).end(String(error)),
        );
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/ocsp`;
    return this;
  }

  /** Stops listening and drops open connections: later requests are refused. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Answer for the chain's leaf (issuer: its intermediate) and intermediate (issuer: its root). */
  addChain(chain: AppleTestChain): this {
    this.addIssuer(chain.intermediate);
    this.addIssuer(chain.root);
    return this;
  }

  addIssuer(cert: AppleTestCert): this {
    const parsed = pkijs.Certificate.fromBER(cert.der);
    const name = new Uint8Array(parsed.subject.toSchema().toBER());
    const key = parsed.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView;
    this.issuers.push({
      cert,
      pkijs: parsed,
      nameHash: { [SHA1_OID]: digest(SHA1_OID, name), [SHA256_OID]: digest(SHA256_OID, name) },
      keyHash: { [SHA1_OID]: digest(SHA1_OID, key), [SHA256_OID]: digest(SHA256_OID, key) },
    });
    return this;
  }

  setStatus(cert: AppleTestCert, status: OcspTestStatus): this {
    this.statuses.set(cert.x509.serialNumber.toLowerCase(), status);
    return this;
  }

  private async answer(path: string, method: string, contentType: string | undefined, body: Buffer) {
    const request = pkijs.OCSPRequest.fromBER(body);
    const certIds = request.tbsRequest.requestList.map((entry) => entry.reqCert);
    this.requests.push({ path, method, contentType, serialNumbers: certIds.map((id) => hex(id.serialNumber.valueBlock.valueHexView)) });
    if (this.httpStatus !== null) return { status: this.httpStatus, body: Buffer.alloc(0) };
    if (this.responseStatus !== 0) return { status: 200, body: this.encodeResponse(this.responseStatus, null) };

    const issuer = certIds[0] && this.issuerOf(certIds[0]);
    if (!issuer) return { status: 200, body: this.encodeResponse(6, null) }; // unauthorized: not ours to answer

    const now = this.now();
    const basic = new pkijs.BasicOCSPResponse();
    basic.tbsResponseData.producedAt = new Date(now);
    for (const certId of certIds) {
      const serial = hex(certId.serialNumber.valueBlock.valueHexView).replace(/^00/, "");
      const single = new pkijs.SingleResponse({
        certID: certId,
        certStatus: certStatusOf(this.statuses.get(serial) ?? "good", now),
        thisUpdate: this.times.thisUpdate ?? new Date(now),
      });
      const nextUpdate = this.times.nextUpdate === undefined ? new Date(now + 3_600_000) : this.times.nextUpdate;
      if (nextUpdate !== null) single.nextUpdate = nextUpdate;
      basic.tbsResponseData.responses.push(single);
    }
    const signer = await this.signerFor(issuer);
    basic.tbsResponseData.responderID = signer.name;
    if (signer.certs.length > 0) basic.certs = signer.certs;
    await basic.sign(signer.key, "SHA-256");
    if (this.corruptSignature) {
      const signature = new Uint8Array(basic.signature.valueBlock.valueHexView);
      signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 0x01;
      basic.signature = new asn1js.BitString({ valueHex: signature });
    }
    return { status: 200, body: this.encodeResponse(0, basic) };
  }

  private issuerOf(certId: pkijs.CertID): Issuer | undefined {
    const alg = certId.hashAlgorithm.algorithmId;
    const nameHash = hex(certId.issuerNameHash.valueBlock.valueHexView);
    const keyHash = hex(certId.issuerKeyHash.valueBlock.valueHexView);
    return this.issuers.find((issuer) => issuer.nameHash[alg] === nameHash && issuer.keyHash[alg] === keyHash);
  }

  private async signerFor(issuer: Issuer): Promise<Signer> {
    if (this.signer === "issuer") return { key: issuer.cert.keys.privateKey, name: issuer.pkijs.subject, certs: [] };
    if (this.signer === "stranger") return { key: (await generateEcKeyPair()).privateKey, name: issuer.pkijs.subject, certs: [] };
    const cacheKey = `${this.signer}:${issuer.cert.base64}`;
    const cached = this.delegatedSigners.get(cacheKey);
    if (cached) return cached;
    const keys = await generateEcKeyPair();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: "CN=Test OCSP Responder, O=subgate tests, C=US",
      issuer: issuer.cert.x509.subjectName,
      notBefore: new Date(this.now() - 86_400_000),
      notAfter: new Date(this.now() + 86_400_000),
      publicKey: keys.publicKey,
      signingKey: issuer.cert.keys.privateKey,
      signingAlgorithm: signingAlgorithmFor(issuer.cert.keys.privateKey),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ...(this.signer === "delegated" ? [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.ocspSigning])] : []),
      ],
    });
    const parsed = pkijs.Certificate.fromBER(cert.rawData);
    const signer = { key: keys.privateKey, name: parsed.subject, certs: [parsed] };
    this.delegatedSigners.set(cacheKey, signer);
    return signer;
  }

  private encodeResponse(responseStatus: number, basic: pkijs.BasicOCSPResponse | null): Buffer {
    const response = new pkijs.OCSPResponse({ responseStatus: new asn1js.Enumerated({ value: responseStatus }) });
    if (basic !== null) {
      response.responseBytes = new pkijs.ResponseBytes({
        responseType: OCSP_BASIC_OID,
        response: new asn1js.OctetString({ valueHex: basic.toSchema().toBER() }),
      });
    }
    return Buffer.from(response.toSchema().toBER());
  }
}

/** CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL } */
function certStatusOf(status: OcspTestStatus, now: number): asn1js.BaseBlock {
  if (status === "revoked") {
    return new asn1js.Constructed({
      idBlock: { tagClass: 3, tagNumber: 1 },
      value: [new asn1js.GeneralizedTime({ valueDate: new Date(now - 3_600_000) })],
    });
  }
  return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: status === "good" ? 0 : 2 } });
}
