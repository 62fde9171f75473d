// Tables that can be exported: each column says how to show a row and what
// to write in the CSV (the plain value: ids, decimal strings, ISO dates).
import { h, clear } from "./dom.js";

export interface Column<T> {
  title: string;
  /** The cell: text or an element. */
  cell: (row: T) => Node | string;
  /** The CSV value; the cell's text when left out. */
  csv?: (row: T) => string;
  numeric?: boolean;
}

export interface TableOptions {
  /** The CSV file's name, without ".csv". */
  name: string;
  caption?: string;
  empty?: string;
}

export function table<T>(rows: T[], columns: Column<T>[], options: TableOptions): HTMLElement {
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : undefined }, c.title)));
  const body = h("tbody");
  for (const row of rows) {
    body.append(h("tr", {}, columns.map((c) => h("td", { class: c.numeric ? "num" : undefined }, c.cell(row)))));
  }
  const export_ = h("button", { type: "button", class: "secondary export", "data-export": options.name }, "Export CSV");
  export_.addEventListener("click", () => download(`${options.name}.csv`, toCsv(rows, columns)));
  const el = h(
    "div",
    { class: "table-wrap", "data-table": options.name },
    h("div", { class: "table-bar" }, h("span", { class: "count" }, options.caption ?? `${rows.length} ${rows.length === 1 ? "row" : "rows"}`), export_),
    rows.length === 0 ? h("p", { class: "empty" }, options.empty ?? "Nothing to show.") : h("div", { class: "table-scroll" }, h("table", {}, h("thead", {}, head), body)),
  );
  return el;
}

export function toCsv<T>(rows: T[], columns: Column<T>[]): string {
  const lines = [columns.map((c) => quote(c.title)).join(",")];
  for (const row of rows) {
    lines.push(
      columns
        .map((c) => {
          if (c.csv) return quote(c.csv(row));
          const cell = c.cell(row);
          return quote(typeof cell === "string" ? cell : (cell.textContent ?? ""));
        })
        .join(","),
    );
  }
  return lines.join("\r\n") + "\r\n";
}

/** RFC 4180 quoting; a leading =, +, - or @ is prefixed with ' so that a
 * spreadsheet never runs a cell as a formula. */
function quote(v: string): string {
  const safe = /^[=+\-@]/.test(v) && !/^-?\d/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function download(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Replaces `holder`'s table. */
export function replaceTable(holder: HTMLElement, el: HTMLElement): void {
  clear(holder, el);
}
