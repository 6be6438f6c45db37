import { describe, expect, it } from "vitest";
import { renderTable } from "../src/cli/table.ts";
import { formatAbsolute, formatApiTime, formatRelative, parseDuration, parseTimeArgument } from "../src/cli/times.ts";

const NOW = new Date("2026-12-02T10:00:00.000Z");
const ago = (ms: number) => new Date(NOW.getTime() - ms);

describe("parseDuration", () => {
  it.each([
    ["90", 90_000],
    ["1.5", 1_500],
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["24h", 86_400_000],
    ["7d", 604_800_000],
    ["2w", 1_209_600_000],
    ["1h30m", 5_400_000],
    ["1D12H", 129_600_000],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, value: ms });
  });

  it.each(["", "m", "5y", "-5m", "5 m", "1h-30m", "abc"])("refuses %j", (text) => {
    expect(parseDuration(text)).toMatchObject({ ok: false, problem: expect.stringContaining("not a duration") });
  });
});

describe("parseTimeArgument", () => {
  it("reads a time ago as that long before now", () => {
    expect(parseTimeArgument("7d", NOW)).toEqual({ ok: true, value: ago(7 * 86_400_000) });
    expect(parseTimeArgument("30m", NOW)).toEqual({ ok: true, value: ago(30 * 60_000) });
    expect(parseTimeArgument("1h30m", NOW)).toEqual({ ok: true, value: ago(90 * 60_000) });
    expect(parseTimeArgument("now", NOW)).toEqual({ ok: true, value: NOW });
    expect(parseTimeArgument("NOW", NOW)).toEqual({ ok: true, value: NOW });
  });

  it.each([
    ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z"],
    ["2026-01-01T00:00:00.123456Z", "2026-01-01T00:00:00.123Z"],
    ["2026-01-01t10:30z", "2026-01-01T10:30:00.000Z"],
    ["2026-01-01 10:30:15+02:00", "2026-01-01T08:30:15.000Z"],
    ["2026-01-01T10:30:15-0530", "2026-01-01T16:00:15.000Z"],
    ["2026-01-01", "2026-01-01T00:00:00.000Z"],
    ["2028-02-29", "2028-02-29T00:00:00.000Z"],
  ])("reads %s as %s", (text, iso) => {
    const parsed = parseTimeArgument(text, NOW);
    expect(parsed.ok && parsed.value.toISOString()).toBe(iso);
  });

  it("refuses a time without a zone, rather than guessing one", () => {
    expect(parseTimeArgument("2026-01-01T10:00:00", NOW)).toMatchObject({ ok: false, problem: expect.stringContaining("no time zone") });
  });

  it.each(["2026-02-30", "2027-02-29", "2026-13-01", "2026-01-01T24:00Z", "2026-01-01T10:60Z", "2026-00-10"])(
    "refuses %s, which is no real date and time (Date.parse would roll it over)",
    (text) => {
      expect(parseTimeArgument(text, NOW)).toMatchObject({ ok: false, problem: expect.stringContaining("not a real date") });
    },
  );

  it.each(["yesterday", "7", "2026", "01/02/2026", "7 days"])("refuses %j with what it takes", (text) => {
    expect(parseTimeArgument(text, NOW)).toMatchObject({ ok: false, problem: expect.stringContaining("neither an ISO 8601 time") });
  });
});

describe("formatRelative", () => {
  it.each([
    [0, "just now"],
    [999, "just now"],
    [1_000, "1 second ago"],
    [59_999, "59 seconds ago"],
    [60_000, "1 minute ago"],
    [3 * 60_000 + 59_000, "3 minutes ago"],
    [2 * 3_600_000, "2 hours ago"],
    [86_400_000, "1 day ago"],
    [29 * 86_400_000, "29 days ago"],
    [45 * 86_400_000, "1 month ago"],
    [400 * 86_400_000, "1 year ago"],
  ])("%d ms ago is %j", (ms, text) => {
    expect(formatRelative(ago(ms), NOW)).toBe(text);
  });

  it("says a time ahead of the reader's clock is ahead", () => {
    expect(formatRelative(new Date(NOW.getTime() + 2 * 3_600_000), NOW)).toBe("in 2 hours");
  });
});

describe("formatApiTime", () => {
  it("gives the relative time and the UTC time to the second", () => {
    expect(formatAbsolute(new Date("2026-12-02T09:57:00.456Z"))).toBe("2026-12-02 09:57:00Z");
    expect(formatApiTime("2026-12-02T09:57:00.456Z", NOW)).toBe("2 minutes ago (2026-12-02 09:57:00Z)");
  });

  it("says never for null or a missing field, and shows what does not parse as it came", () => {
    expect(formatApiTime(null, NOW)).toBe("never");
    expect(formatApiTime(undefined, NOW, "not yet")).toBe("not yet");
    expect(formatApiTime("soon", NOW)).toBe("soon");
  });
});

describe("renderTable", () => {
  it("pads every column but the last, and escapes control characters from the gateway", () => {
    expect(
      renderTable(
        ["STORE", "ENV", "REASON"],
        [
          ["stripe", "sandbox", "bad signature"],
          ["app_store", "production", "\u001b[2Jcleared"],
        ],
      ),
    ).toBe(
      ["STORE      ENV         REASON", "stripe     sandbox     bad signature", "app_store  production  \\u001b[2Jcleared", ""].join("\n"),
    );
  });
});
