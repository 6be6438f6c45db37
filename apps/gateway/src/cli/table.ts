import { printable } from "./output.ts";

/**
 * A plain-text table: a header row, then one row per entry, columns padded with two spaces between
 * them. The last column is not padded, so a long last cell (a rejection reason) only makes its own
 * line long.
 */
export function renderTable(header: string[], rows: string[][]): string {
  const cells = [header, ...rows].map((row) => row.map(printable));
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}
