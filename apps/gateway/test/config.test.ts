import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKey, parseKey } from "@subgate/core";
import { DEFAULT_RETRY_SCHEDULE_MS } from "@subgate/delivery";
import { DEFAULT_APPLE_ROOT_CA_G3_PATH } from "@subgate/stores";
import { createSelfSignedTlsCertificate } from "@subgate/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseEnv } from "../src/config.ts";
import { resolveEncryptionKey } from "../src/encryption-key.ts";
import { runToExit } from "./gateway-process.ts";

/** Configuration from the environment: defaults, clear refusals, and the encryption key. */

function configError(source: Record<string, string | undefined>): ConfigError {
  try {
    parseEnv(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`parseEnv accepted ${JSON.stringify(source)}`);
}

describe("parseEnv", () => {
  it("fills in the documented defaults", () => {
    const env = parseEnv({});
    expect(env).toMatchObject({
      NODE_ENV: "development",
      DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/subgate",
      REDIS_URL: "redis://127.0.0.1:6379",
      PORT: 3000,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: false,
      QUEUE_PREFIX: "subgate",
      STRIPE_API_BASE_URL: "https://api.stripe.com",
    });
    expect(env.PUBLIC_BASE_URL).toBeUndefined();
    expect(env.HEALTH_PORT).toBeUndefined();
    expect(env.SUBGATE_ADMIN_TOKEN).toBeUndefined();
    expect(env.SUBGATE_ENCRYPTION_KEY).toBeUndefined();
    expect(env.WEBHOOK_RETRY_SCHEDULE).toEqual([...DEFAULT_RETRY_SCHEDULE_MS]);
  });

  it("reads given values", () => {
    const env = parseEnv({
      DATABASE_URL: "postgres://u:p@db.internal:5433/x",
      REDIS_URL: "rediss://cache.internal:6380",
      PORT: "8080",
      HEALTH_PORT: "8081",
      PUBLIC_BASE_URL: "https://subgate.example.com",
      SUBGATE_ADMIN_TOKEN: "a-long-admin-token",
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      WEBHOOK_RETRY_SCHEDULE: "5s,1m,2h",
    });
    expect(env).toMatchObject({
      DATABASE_URL: "postgres://u:p@db.internal:5433/x",
      REDIS_URL: "rediss://cache.internal:6380",
      PORT: 8080,
      HEALTH_PORT: 8081,
      PUBLIC_BASE_URL: "https://subgate.example.com",
      SUBGATE_ADMIN_TOKEN: "a-long-admin-token",
      WEBHOOK_ALLOW_PRIVATE_TARGETS: true,
      WEBHOOK_RETRY_SCHEDULE: [5_000, 60_000, 7_200_000],
    });
  });

  it.each([
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "80.5"],
    ["HEALTH_PORT", "abc"],
    ["HEALTH_PORT", "70000"],
    ["DATABASE_URL", "mysql://root@127.0.0.1/subgate"],
    ["REDIS_URL", "127.0.0.1:6379"],
    ["WEBHOOK_RETRY_SCHEDULE", "5s,soon"],
    ["WEBHOOK_RETRY_SCHEDULE", "5s,,1m"],
    ["WEBHOOK_ALLOW_PRIVATE_TARGETS", "maybe"],
    ["PUBLIC_BASE_URL", "ftp://subgate.example.com"],
    // Ingress URLs are the base plus /ingress/...: these would send stores elsewhere.
    ["PUBLIC_BASE_URL", "https://subgate.example.com/?x=1"],
    ["PUBLIC_BASE_URL", "https://subgate.example.com#top"],
    ["PUBLIC_BASE_URL", "https://user:pass@subgate.example.com"],
    // An Authorization: Bearer header cannot carry a space: such a token could never be used.
    ["SUBGATE_ADMIN_TOKEN", "admin token with spaces"],
    ["NODE_ENV", "staging"],
    ["APPLE_INGRESS_ALLOWED_IPS", "17.0.0.0/33"],
    ["APPLE_INGRESS_ALLOWED_IPS", "2001:db8::/129"],
    ["APPLE_INGRESS_ALLOWED_IPS", "apple.com"],
    ["APPLE_INGRESS_ALLOWED_IPS", "17.0.0.0/8 10.0.0.0/8"],
    // A slip, not "no entry": an empty entry is refused rather than skipped.
    ["APPLE_INGRESS_ALLOWED_IPS", "17.0.0.0/8,"],
    ["TRUST_PROXY", "yes"],
    ["TRUST_PROXY", "-1"],
    ["TRUST_PROXY", "10.0.0.0/33"],
    ["TRUST_PROXY", "Loopback"],
    ["TRUST_PROXY", "loopback,,10.0.0.1"],
    ["TLS_CERT_FILE", "/nonexistent/subgate-cert.pem"],
  ])("refuses %s=%s with a ConfigError naming the variable", (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).toContain(name);
    expect(error.message).toMatch(/^invalid configuration/);
    // Only the variable that is wrong is named.
    const named = error.message.split("\n").slice(1);
    expect(named).toHaveLength(1);
    expect(named[0]?.trim().startsWith(`${name}:`)).toBe(true);
  });

  it.each([
    ["PORT", "abc", 'PORT: got "abc"; expected an integer from 0 to 65535'],
    ["PORT", "70000", 'PORT: got "70000"; expected an integer from 0 to 65535'],
    ["PUBLIC_BASE_URL", "ftp://x", 'PUBLIC_BASE_URL: got "ftp://x"; expected an http:// or https:// URL'],
    ["WEBHOOK_ALLOW_PRIVATE_TARGETS", "maybe", 'WEBHOOK_ALLOW_PRIVATE_TARGETS: got "maybe"; expected true or false'],
    ["LOG_LEVEL", "loud", 'LOG_LEVEL: got "loud"; expected one of fatal, error, warn, info, debug, trace, silent'],
    ["HOST", "not a host", 'HOST: got "not a host"; expected an IP address'],
    ["WEBHOOK_TIMEOUT_MS", "5s", 'WEBHOOK_TIMEOUT_MS: got "5s"; expected a number of milliseconds from 100 to 120000'],
    [
      "APPLE_INGRESS_ALLOWED_IPS",
      "17.0.0.0/8,17.0.0.0/33",
      'APPLE_INGRESS_ALLOWED_IPS: got "17.0.0.0/8,17.0.0.0/33"; expected comma-separated IPv4 or IPv6 addresses or CIDR ranges, such as 17.0.0.0/8 ("17.0.0.0/33": an IPv4 prefix length is 0 to 32)',
    ],
    [
      "TRUST_PROXY",
      "loopback, proxy.internal",
      'TRUST_PROXY: got "loopback, proxy.internal"; expected true, false, a number of proxies, or comma-separated addresses, CIDR ranges and loopback, linklocal, uniquelocal (invalid IP address: proxy.internal)',
    ],
  ])("says what %s=%s is and what is expected", (name, value, line) => {
    const error = configError({ [name]: value });
    expect(error.message.split("\n")[1]).toContain(line);
  });

  it("shows a connection string's password as ***, and never a secret's value", () => {
    const url = configError({ DATABASE_URL: "mysql://admin:hunter2@db.internal/subgate" });
    expect(url.message).toContain('DATABASE_URL: got "mysql://admin:***@db.internal/subgate"; expected a postgresql:// URL');
    expect(url.message).not.toContain("hunter2");
    // A value that is no URL may still be a connection string with a password: not shown at all.
    for (const [name, value] of [
      ["DATABASE_URL", "postgres//user:s3cret@db/x"],
      ["DATABASE_URL", "host=db user=u password=s3cret"],
      ["REDIS_URL", "redis//:s3cret@r:6379"],
    ]) {
      const error = configError({ [name as string]: value });
      expect(error.message).toContain(`${name}: got a value that is not a URL (not shown: it may hold a password)`);
      expect(error.message).not.toContain("s3cret");
    }
    const token = configError({ SUBGATE_ADMIN_TOKEN: "has spaces in it" });
    expect(token.message).toContain("SUBGATE_ADMIN_TOKEN: got a value (not shown: it is a secret); expected");
    expect(token.message).not.toContain("has spaces");
  });

  it.each([
    ["true", true],
    ["TRUE", true],
    ["True", true],
    ["1", true],
    ["yes", true],
    ["On", true],
    ["false", false],
    ["FALSE", false],
    ["0", false],
    ["no", false],
    ["OFF", false],
    [" true ", true],
  ])("reads WEBHOOK_ALLOW_PRIVATE_TARGETS=%j as %s", (value, expected) => {
    expect(parseEnv({ WEBHOOK_ALLOW_PRIVATE_TARGETS: value }).WEBHOOK_ALLOW_PRIVATE_TARGETS).toBe(expected);
  });

  it("binds every IPv4 interface unless HOST says otherwise, and takes addresses and host names", () => {
    expect(parseEnv({}).HOST).toBe("0.0.0.0");
    for (const host of ["127.0.0.1", "::", "::1", "localhost", "subgate.internal"]) expect(parseEnv({ HOST: host }).HOST).toBe(host);
  });

  it("accepts a base URL with a path, with or without a trailing slash", () => {
    for (const value of ["https://example.com/subgate", "https://example.com/subgate/"]) {
      expect(parseEnv({ PUBLIC_BASE_URL: value }).PUBLIC_BASE_URL).toBe(value);
    }
  });

  it("reads APPLE_ROOT_CERTS files at once, PEM or DER, and names a file that is not a certificate", async () => {
    const dir = await mkdtemp(join(tmpdir(), "subgate-roots-"));
    try {
      const pem = await readFile(DEFAULT_APPLE_ROOT_CA_G3_PATH, "utf8");
      const der = new X509Certificate(pem).raw;
      await writeFile(join(dir, "root.pem"), pem);
      await writeFile(join(dir, "root.der"), der);
      await writeFile(join(dir, "junk.pem"), "not a certificate");
      const env = parseEnv({ APPLE_ROOT_CERTS: `${join(dir, "root.pem")}, ${join(dir, "root.der")}` });
      expect(env.APPLE_ROOT_CERTS?.map((root) => Buffer.from(root).equals(der))).toEqual([true, true]);
      expect(parseEnv({}).APPLE_ROOT_CERTS).toBeNull();
      for (const bad of [join(dir, "junk.pem"), join(dir, "missing.pem")]) {
        const line = configError({ APPLE_ROOT_CERTS: bad }).message.split("\n")[1];
        expect(line).toContain("APPLE_ROOT_CERTS");
        expect(line).toContain(bad);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("takes the Apple switches and the OCSP URL", () => {
    expect(parseEnv({})).toMatchObject({ APPLE_ONLINE_CHECKS: false, APPLE_ALLOW_LOCAL_ENVIRONMENTS: false });
    expect(parseEnv({}).APPLE_OCSP_URL).toBeUndefined();
    const env = parseEnv({
      APPLE_ONLINE_CHECKS: "yes",
      APPLE_ALLOW_LOCAL_ENVIRONMENTS: "1",
      APPLE_OCSP_URL: "http://ocsp.example.com/ocsp",
    });
    expect(env).toMatchObject({
      APPLE_ONLINE_CHECKS: true,
      APPLE_ALLOW_LOCAL_ENVIRONMENTS: true,
      APPLE_OCSP_URL: "http://ocsp.example.com/ocsp",
    });
    expect(configError({ APPLE_OCSP_URL: "ocsp.example.com" }).message).toContain("APPLE_OCSP_URL");
  });

  it("checks nothing of App Store ingress addresses by default, and reads a list of IPv4 and IPv6 addresses and ranges", () => {
    expect(parseEnv({}).APPLE_INGRESS_ALLOWED_IPS).toBeNull();
    expect(parseEnv({ APPLE_INGRESS_ALLOWED_IPS: " 17.0.0.0/8 , 2001:db8::/32,203.0.113.9,::1" }).APPLE_INGRESS_ALLOWED_IPS).toEqual([
      "17.0.0.0/8",
      "2001:db8::/32",
      "203.0.113.9",
      "::1",
    ]);
  });

  it("believes no proxy by default, and reads TRUST_PROXY as Express takes it", () => {
    expect(parseEnv({}).TRUST_PROXY).toBe(false);
    for (const [value, expected] of [
      ["true", true],
      ["FALSE", false],
      ["1", 1],
      ["2", 2],
      ["loopback", ["loopback"]],
      ["loopback, linklocal,uniquelocal", ["loopback", "linklocal", "uniquelocal"]],
      ["10.0.0.0/8, 192.168.1.1, fd00::/8, 10.0.0.0/255.0.0.0", ["10.0.0.0/8", "192.168.1.1", "fd00::/8", "10.0.0.0/255.0.0.0"]],
    ] as const) {
      expect(parseEnv({ TRUST_PROXY: value }).TRUST_PROXY).toEqual(expected);
    }
  });

  it("reads TLS_CERT_FILE and TLS_KEY_FILE at once, both or neither, and names the file that is wrong and why", async () => {
    const dir = await mkdtemp(join(tmpdir(), "subgate-tls-"));
    try {
      const [server, other] = await Promise.all([createSelfSignedTlsCertificate(), createSelfSignedTlsCertificate()]);
      const path = (name: string) => join(dir, name);
      await writeFile(path("cert.pem"), server.cert);
      await writeFile(path("key.pem"), server.key);
      await writeFile(path("other-key.pem"), other.key);
      const encrypted = createPrivateKey(server.key).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" });
      await writeFile(path("encrypted-key.pem"), encrypted);

      const env = parseEnv({ TLS_CERT_FILE: path("cert.pem"), TLS_KEY_FILE: path("key.pem") });
      expect(env.TLS_CERT_FILE?.toString()).toBe(server.cert);
      expect(env.TLS_KEY_FILE?.toString()).toBe(server.key);
      expect(parseEnv({})).toMatchObject({ TLS_CERT_FILE: null, TLS_KEY_FILE: null });

      const line = (source: Record<string, string>) => {
        const lines = configError(source).message.split("\n").slice(1);
        expect(lines).toHaveLength(1);
        return lines[0]?.trim();
      };
      expect(line({ TLS_CERT_FILE: path("cert.pem") })).toBe(
        "TLS_KEY_FILE: not set; expected a PEM file with the certificate's unencrypted private key (TLS_CERT_FILE is set: HTTPS needs both)",
      );
      expect(line({ TLS_KEY_FILE: path("key.pem") })).toBe(
        "TLS_CERT_FILE: not set; expected a PEM file with the server's certificate (TLS_KEY_FILE is set: HTTPS needs both)",
      );
      expect(line({ TLS_CERT_FILE: path("cert.pem"), TLS_KEY_FILE: path("other-key.pem") })).toBe(
        `TLS_KEY_FILE: got ${JSON.stringify(path("other-key.pem"))}; expected a PEM file with the certificate's unencrypted private key (it is not the key of the certificate in TLS_CERT_FILE)`,
      );
      expect(line({ TLS_CERT_FILE: path("cert.pem"), TLS_KEY_FILE: path("encrypted-key.pem") })).toContain(
        "(it is encrypted, and subgate takes no passphrase)",
      );
      expect(line({ TLS_CERT_FILE: path("missing.pem"), TLS_KEY_FILE: path("key.pem") })).toMatch(
        /^TLS_CERT_FILE: got ".*missing\.pem"; expected a PEM file with the server's certificate \(ENOENT: no such file or directory/,
      );
      // The two files the wrong way round.
      expect(line({ TLS_CERT_FILE: path("key.pem"), TLS_KEY_FILE: path("key.pem") })).toMatch(
        /^TLS_CERT_FILE: got ".*key\.pem"; expected a PEM file with the server's certificate \(it holds no PEM certificate/,
      );
      expect(line({ TLS_CERT_FILE: path("cert.pem"), TLS_KEY_FILE: path("cert.pem") })).toMatch(
        /^TLS_KEY_FILE: got ".*cert\.pem"; expected a PEM file with the certificate's unencrypted private key \(it holds no private key/,
      );
      // The key's content is never in a message.
      expect(configError({ TLS_CERT_FILE: path("cert.pem"), TLS_KEY_FILE: path("other-key.pem") }).message).not.toContain("PRIVATE KEY");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("names every wrong variable at once", () => {
    const error = configError({ PORT: "abc", DATABASE_URL: "mysql://x", WEBHOOK_RETRY_SCHEDULE: "never" });
    for (const name of ["PORT", "DATABASE_URL", "WEBHOOK_RETRY_SCHEDULE"]) expect(error.message).toContain(name);
  });

  it("requires SUBGATE_ENCRYPTION_KEY when NODE_ENV=production", () => {
    const error = configError({ NODE_ENV: "production" });
    expect(error.message).toContain("SUBGATE_ENCRYPTION_KEY");
    const env = parseEnv({ NODE_ENV: "production", SUBGATE_ENCRYPTION_KEY: generateKey() });
    expect(env.NODE_ENV).toBe("production");
  });

  // z.coerce.number() would turn "" into 0: an empty `PORT=` line must not bind a random port.
  it("treats an empty PORT as unset (3000) or refuses it, never as port 0", () => {
    let port: number;
    try {
      port = parseEnv({ PORT: "" }).PORT;
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain("PORT");
      return;
    }
    expect(port).toBe(3000);
  });

  // Unset means a worker-only process serves no HTTP, so `start:server` and `start:worker` side by
  // side on one machine do not compete for a port.
  it("leaves HEALTH_PORT unset when it is empty, and accepts 0 (any free port)", () => {
    expect(parseEnv({ HEALTH_PORT: "" }).HEALTH_PORT).toBeUndefined();
    expect(parseEnv({ HEALTH_PORT: "0" }).HEALTH_PORT).toBe(0);
  });

  it("does not echo a rejected admin token", () => {
    const error = configError({ SUBGATE_ADMIN_TOKEN: "short" });
    expect(error.message).toContain("SUBGATE_ADMIN_TOKEN");
    expect(error.message).not.toContain("short\n");
  });
});

describe("resolveEncryptionKey", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "subgate-key-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("generates a key file on first call and reuses it on the second", async () => {
    const dataDir = join(dir, "fresh", ".subgate");
    const first = await resolveEncryptionKey({ configured: undefined, dataDir, production: false });
    expect(first.source).toBe("generated");
    const path = join(dataDir, "encryption.key");
    expect((await readFile(path, "utf8")).trim()).toBe(first.key);
    expect((await stat(path)).mode & 0o077).toBe(0);

    const second = await resolveEncryptionKey({ configured: undefined, dataDir, production: false });
    expect(second).toEqual({ key: first.key, source: "file" });
  });

  it("gives processes starting at once the same complete key, and leaves no draft behind", async () => {
    const dataDir = join(dir, "together", ".subgate");
    const results = await Promise.all(
      Array.from({ length: 8 }, () => resolveEncryptionKey({ configured: undefined, dataDir, production: false })),
    );
    const keys = new Set(results.map((result) => result.key));
    expect(keys.size).toBe(1);
    expect(() => parseKey([...keys][0] as string)).not.toThrow();
    expect(await readdir(dataDir)).toEqual(["encryption.key"]);
  });

  it("uses a configured key as is", async () => {
    const key = generateKey();
    const dataDir = join(dir, "configured");
    expect(await resolveEncryptionKey({ configured: key, dataDir, production: true })).toEqual({ key, source: "environment" });
    await expect(stat(join(dataDir, "encryption.key"))).rejects.toThrow();
  });

  it("refuses production without a key, and generates nothing", async () => {
    const dataDir = join(dir, "production");
    const attempt = resolveEncryptionKey({ configured: undefined, dataDir, production: true });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(resolveEncryptionKey({ configured: undefined, dataDir, production: true })).rejects.toThrow(/SUBGATE_ENCRYPTION_KEY/);
    await expect(stat(join(dataDir, "encryption.key"))).rejects.toThrow();
  });

  it("refuses an invalid configured key without echoing it", async () => {
    const invalid = "not-a-32-byte-key";
    const attempt = resolveEncryptionKey({ configured: invalid, dataDir: join(dir, "invalid"), production: false });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    const error = await resolveEncryptionKey({ configured: invalid, dataDir: join(dir, "invalid"), production: false }).catch(
      (e: Error) => e,
    );
    expect((error as Error).message).toContain("SUBGATE_ENCRYPTION_KEY");
    expect((error as Error).message).not.toContain(invalid);
  });

  it("refuses a corrupted key file instead of replacing it", async () => {
    const dataDir = join(dir, "corrupt");
    await resolveEncryptionKey({ configured: undefined, dataDir, production: false });
    const path = join(dataDir, "encryption.key");
    await writeFile(path, "garbage\n");
    await expect(resolveEncryptionKey({ configured: undefined, dataDir, production: false })).rejects.toBeInstanceOf(ConfigError);
    expect(await readFile(path, "utf8")).toBe("garbage\n");
  });
});

describe("the entry point", () => {
  const runMain = (env: Record<string, string>, args: string[] = ["all"]) =>
    runToExit("apps/gateway/src/main.ts", args, env, { initCwd: dataDir });

  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "subgate-main-"));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("exits non-zero with one clear line naming PORT, without a stack trace, for PORT=abc", async () => {
    const result = await runMain({ PORT: "abc", SUBGATE_DATA_DIR: dataDir });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain("PORT");
    expect(result.stderr).not.toContain("    at ");
  }, 40_000);

  it("exits non-zero without a stack trace when PostgreSQL cannot be reached", async () => {
    const result = await runMain({
      DATABASE_URL: "postgresql://postgres@127.0.0.1:1/nothing",
      SUBGATE_DATA_DIR: dataDir,
      SUBGATE_ENCRYPTION_KEY: generateKey(),
      PORT: "0",
      LOG_LEVEL: "silent",
    });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toMatch(/could not start/);
    expect(result.stderr).not.toContain("    at ");
  }, 40_000);

  it("reads .env from the folder npm was started from, and lets the environment win over it", async () => {
    await writeFile(join(dataDir, ".env"), "PORT=abc\nLOG_LEVEL=nonsense\n");
    try {
      const fromFile = await runMain({ SUBGATE_DATA_DIR: dataDir });
      expect(fromFile.code).not.toBe(0);
      expect(fromFile.stderr).toContain("PORT");
      expect(fromFile.stderr).toContain("LOG_LEVEL");
      const overridden = await runMain({ SUBGATE_DATA_DIR: dataDir, LOG_LEVEL: "silent" });
      expect(overridden.code).not.toBe(0);
      expect(overridden.stderr).toContain("PORT");
      expect(overridden.stderr).not.toContain("LOG_LEVEL");
    } finally {
      await rm(join(dataDir, ".env"));
    }
  }, 40_000);

  it("exits non-zero with one clear line when TLS_KEY_FILE is set without TLS_CERT_FILE", async () => {
    await writeFile(join(dataDir, "key.pem"), (await createSelfSignedTlsCertificate()).key);
    const result = await runMain({ SUBGATE_DATA_DIR: dataDir, TLS_KEY_FILE: join(dataDir, "key.pem") });
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split("\n")).toEqual([
      "invalid configuration:",
      expect.stringMatching(/^ {2}TLS_CERT_FILE: not set; expected .*HTTPS needs both/),
    ]);
  }, 40_000);

  it("exits non-zero for an unknown role", async () => {
    const result = await runMain({ SUBGATE_DATA_DIR: dataDir }, ["everything"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("everything");
    expect(result.stderr).not.toContain("    at ");
  }, 40_000);
});
