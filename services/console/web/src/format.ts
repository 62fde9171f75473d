// How figures are shown. Amounts stay the server's decimal strings (summed,
// where the console must, exactly with BigInt); instants are shown in
// Dhaka time (UTC+06:00), the clock the rules count by.
import type { Timestamp, Duration } from "@bufbuild/protobuf/wkt";
import type { Date as PbDate } from "./gen/google/type/date_pb.js";
import type { Money } from "./gen/repat/v1/money_pb.js";

const DHAKA_OFFSET_MS = 6 * 3600 * 1000;

export function money(m: Money | undefined): string {
  if (!m || m.currency === "") return "";
  return `${m.currency} ${groupDigits(m.amount)}`;
}

export function groupDigits(amount: string): string {
  const [int, frac] = amount.split(".");
  const sign = int.startsWith("-") ? "-" : "";
  const digits = int.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${digits}${frac !== undefined ? "." + frac : ""}`;
}

/** a + b of two decimal strings, exactly. */
export function addDecimal(a: string, b: string): string {
  const scale = Math.max(fractionDigits(a), fractionDigits(b));
  const sum = scaled(a, scale) + scaled(b, scale);
  return unscaled(sum, scale);
}

/** a - b of two decimal strings, exactly. */
export function subtractDecimal(a: string, b: string): string {
  return addDecimal(a, b.startsWith("-") ? b.slice(1) : "-" + b);
}

export function compareDecimal(a: string, b: string): number {
  const scale = Math.max(fractionDigits(a), fractionDigits(b));
  const d = scaled(a, scale) - scaled(b, scale);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

function fractionDigits(s: string): number {
  const i = s.indexOf(".");
  return i < 0 ? 0 : s.length - i - 1;
}

function scaled(s: string, scale: number): bigint {
  if (s === "") return 0n;
  const neg = s.startsWith("-");
  const [int, frac = ""] = s.replace("-", "").split(".");
  const v = BigInt(int + frac.padEnd(scale, "0"));
  return neg ? -v : v;
}

function unscaled(v: bigint, scale: number): string {
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(scale + 1, "0");
  const int = digits.slice(0, digits.length - scale);
  const frac = scale > 0 ? "." + digits.slice(digits.length - scale) : "";
  return `${neg ? "-" : ""}${int}${frac}`;
}

export function seconds(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds) + d.nanos / 1e9;
}

/** "1d 02h 04m", "45m 10s", "12s". */
export function duration(d: Duration | number | undefined): string {
  const s = typeof d === "number" ? d : seconds(d);
  if (s === undefined) return "";
  const neg = s < 0;
  let rest = Math.round(Math.abs(s));
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const sec = rest - m * 60;
  const p2 = (n: number) => String(n).padStart(2, "0");
  const text = days > 0 ? `${days}d ${p2(h)}h ${p2(m)}m` : h > 0 ? `${h}h ${p2(m)}m` : m > 0 ? `${m}m ${p2(sec)}s` : `${sec}s`;
  return neg ? `-${text}` : text;
}

export function timestamp(t: Timestamp | undefined): string {
  if (!t) return "";
  const ms = Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
  const d = new globalThis.Date(ms + DHAKA_OFFSET_MS);
  return `${d.toISOString().slice(0, 16).replace("T", " ")} +06`;
}

/** "YYYY-MM-DD" of a google.type.Date. */
export function date(d: PbDate | undefined): string {
  if (!d || d.year === 0) return "";
  return `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}`;
}

/** Today's date in Dhaka, "YYYY-MM-DD". */
export function todayDhaka(): string {
  return new globalThis.Date(Date.now() + DHAKA_OFFSET_MS).toISOString().slice(0, 10);
}

/** The Dhaka date of a timestamp. */
export function dhakaDate(t: Timestamp | undefined): string {
  if (!t) return "";
  return new globalThis.Date(Number(t.seconds) * 1000 + DHAKA_OFFSET_MS).toISOString().slice(0, 10);
}

export function addDays(day: string, n: number): string {
  const d = new globalThis.Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Calendar days from a to b ("YYYY-MM-DD"). */
export function daysBetween(a: string, b: string): number {
  return Math.round((globalThis.Date.parse(`${b}T00:00:00Z`) - globalThis.Date.parse(`${a}T00:00:00Z`)) / 86400000);
}

export function pbDate(day: string): PbDate {
  const [y, m, d] = day.split("-").map(Number);
  return { $typeName: "google.type.Date", year: y, month: m, day: d } as PbDate;
}

/** "in 12 days", "today", "3 days ago". */
export function relativeDays(n: number): string {
  if (n === 0) return "today";
  const abs = Math.abs(n);
  const unit = abs === 1 ? "day" : "days";
  return n > 0 ? `in ${abs} ${unit}` : `${abs} ${unit} ago`;
}

/** An enum value's name, as the proto spells it after its prefix. */
export function enumName(e: Record<number, string>, v: number): string {
  return v === 0 ? "" : (e[v] ?? String(v));
}

/** "PAYMENT_INITIATED" -> "Payment initiated". */
export function humanize(name: string): string {
  if (name === "") return "";
  const s = name.toLowerCase().replace(/_/g, " ");
  return s[0].toUpperCase() + s.slice(1);
}

export function share(fraction: string): string {
  if (fraction === "") return "";
  return `${(Number(fraction) * 100).toFixed(2)}%`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function moneyOf(amount: string, currency: string): string {
  return currency === "" ? amount : `${currency} ${groupDigits(amount)}`;
}

/** The days of a rule set's deadline ("120 calendar days" -> 120); null
 * for one counted in months, which only the server counts. */
export function ruleDays(rule: string | undefined): number | null {
  const m = /^(\d+)\s+(calendar\s+)?days?$/i.exec(rule?.trim() ?? "");
  return m ? Number(m[1]) : null;
}

/** `value` with as many decimal places as `like` ("0" like "41001.60" -> "0.00"). */
export function atScaleOf(value: string, like: string): string {
  const want = like.includes(".") ? like.length - like.indexOf(".") - 1 : 0;
  return addDecimal(value, want > 0 ? `0.${"0".repeat(want)}` : "0");
}
