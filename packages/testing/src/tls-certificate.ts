import { webcrypto } from "node:crypto";
import { generateEcKeyPair, pemOf, randomSerial, signingAlgorithmFor, x509 } from "./apple/x509.ts";

const DAY_MS = 86_400_000;

export interface TlsCertificate {
  /** PEM of the certificate: what the server serves, and what a client trusts as its CA. */
  cert: string;
  /** PEM (PKCS #8) of its private key. */
  key: string;
}

/**
 * A self-signed P-256 server certificate for localhost, 127.0.0.1 and ::1, valid from a day ago to
 * a day from now. It is its own CA (basicConstraints cA), so a client given it as `ca` trusts it.
 */
export async function createSelfSignedTlsCertificate(): Promise<TlsCertificate> {
  const keys = await generateEcKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=localhost, O=subgate tests",
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + DAY_MS),
    keys,
    signingAlgorithm: signingAlgorithmFor(keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
      ]),
    ],
  });
  const key = new Uint8Array(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { cert: pemOf(new Uint8Array(cert.rawData)), key: pemOf(key, "PRIVATE KEY") };
}
