import { type AppleTestChain, createAppleTestChain, signAppleJws } from "@subgate/testing/apple";
import { beforeAll, describe, expect, it } from "vitest";
import { thrown } from "./fixtures/thrown.ts";
import { AppleJwsError, AppleJwsVerifier, decodeJwsPayloadUnverified } from "../src/apple/jws/index.ts";

const b64url = (text: string) => Buffer.from(text).toString("base64url");
const HEADER = b64url('{"alg":"ES256"}');
const PAYLOAD = b64url('{"notificationType":"TEST","signedDate":1700000000000}');
const SIGNATURE = "A".repeat(86);

function malformedReason(run: () => unknown): string {
  const error = thrown(AppleJwsError, run);
  expect(error.failure).toBe("malformed");
  return error.reason;
}

describe("decodeJwsPayloadUnverified", () => {
  it("decodes the payload of a well-formed JWS", () => {
    expect(decodeJwsPayloadUnverified(`${HEADER}.${PAYLOAD}.${SIGNATURE}`)).toEqual({
      notificationType: "TEST",
      signedDate: 1700000000000,
    });
  });

  it("wants exactly three parts", () => {
    expect(malformedReason(() => decodeJwsPayloadUnverified(`${HEADER}.${PAYLOAD}`))).toMatch(/header\.payload\.signature/);
    expect(malformedReason(() => decodeJwsPayloadUnverified(PAYLOAD))).toMatch(/header\.payload\.signature/);
    expect(malformedReason(() => decodeJwsPayloadUnverified(`${HEADER}.${PAYLOAD}.${SIGNATURE}.${SIGNATURE}`))).toMatch(/not base64url/);
    expect(malformedReason(() => decodeJwsPayloadUnverified(`${HEADER}.${PAYLOAD}.`))).toMatch(/signature is empty/);
    expect(malformedReason(() => decodeJwsPayloadUnverified(`.${PAYLOAD}.${SIGNATURE}`))).toMatch(/header is empty/);
    expect(malformedReason(() => decodeJwsPayloadUnverified(42 as unknown as string))).toMatch(/not a string/);
  });

  it("wants strict base64url", () => {
    let impossible = PAYLOAD;
    while (impossible.length % 4 !== 1) impossible += "A";
    const spoilt = {
      "the standard alphabet": PAYLOAD.replace(/.$/, "+"),
      padding: `${PAYLOAD}==`,
      whitespace: `${PAYLOAD.slice(0, 8)} ${PAYLOAD.slice(8)}`,
      "a non-ASCII character": `${PAYLOAD.slice(0, 8)}\u0141${PAYLOAD.slice(9)}`,
      "an impossible length": impossible,
    };
    for (const [what, payload] of Object.entries(spoilt)) {
      expect(
        malformedReason(() => decodeJwsPayloadUnverified(`${HEADER}.${payload}.${SIGNATURE}`)),
        what,
      ).toMatch(/payload is not (canonical )?base64url/);
    }
    // Unused bits set in the last character: another spelling of the same bytes.
    const twoChars = b64url("{}");
    expect(twoChars).toBe("e30");
    expect(malformedReason(() => decodeJwsPayloadUnverified(`${HEADER}.e31.${SIGNATURE}`))).toMatch(/not canonical base64url/);
    expect(decodeJwsPayloadUnverified(`${HEADER}.e30.${SIGNATURE}`)).toEqual({});
  });

  it("wants a JSON object in UTF-8", () => {
    for (const [what, text] of [
      ["an array", "[1,2]"],
      ["null", "null"],
      ["a string", '"x"'],
      ["broken JSON", '{"a":'],
      ["a BOM", '\uFEFF{"a":1}'],
    ] as const) {
      expect(
        malformedReason(() => decodeJwsPayloadUnverified(`${HEADER}.${b64url(text)}.${SIGNATURE}`)),
        what,
      ).toMatch(/payload is not (a )?JSON/);
    }
    const invalidUtf8 = Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]).toString("base64url");
    expect(malformedReason(() => decodeJwsPayloadUnverified(`${HEADER}.${invalidUtf8}.${SIGNATURE}`))).toMatch(/payload is not JSON/);
    expect(malformedReason(() => decodeJwsPayloadUnverified(`${b64url("[]")}.${PAYLOAD}.${SIGNATURE}`))).toMatch(
      /header is not a JSON object/,
    );
  });
});

describe("AppleJwsVerifier: shape", () => {
  let chain: AppleTestChain;
  let verifier: AppleJwsVerifier;
  beforeAll(async () => {
    chain = await createAppleTestChain();
    verifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
  });

  it("refuses a JWS that is not ASCII, even one whose characters would decode to the signed bytes", () => {
    const jws = signAppleJws({ signedDate: Date.now() }, chain);
    expect(verifier.verifySync(jws)).toBeTruthy();
    // Node's base64 decoder reads only the low byte of a character: U+0100 + c would decode as c.
    const aliased = `${jws.slice(0, 10)}${String.fromCharCode(jws.charCodeAt(10) + 0x100)}${jws.slice(11)}`;
    expect(malformedReason(() => verifier.verifySync(aliased))).toBe("the JWS is not ASCII");
  });

  it("refuses a header that is not a JSON object", () => {
    const [, payload, signature] = signAppleJws({ signedDate: Date.now() }, chain).split(".");
    expect(malformedReason(() => verifier.verifySync(`${b64url("[]")}.${payload}.${signature}`))).toBe(
      "the JWS header is not a JSON object",
    );
    expect(malformedReason(() => verifier.verifySync(`${b64url("{")}.${payload}.${signature}`))).toBe("the JWS header is not JSON");
  });

  it("refuses a payload that is not a JSON object before looking at the chain", () => {
    const [header, , signature] = signAppleJws({ signedDate: Date.now() }, chain).split(".");
    expect(malformedReason(() => verifier.verifySync(`${header}.${b64url("[1]")}.${signature}`))).toBe(
      "the JWS payload is not a JSON object",
    );
  });
});
