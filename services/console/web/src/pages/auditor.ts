// The auditor's view: where the money waits (by step and span, filtered
// by corridor, bank, channel, party kind and month, against the G20 lines
// and the 120-day deadline), deadline breaches with names, the G20
// scorecard, incentive totals, and the audit chain.
import { api, all, describeError } from "../api.js";
import { h, clear, note, section, link, badge, loading } from "../dom.js";
import { money, moneyOf, duration, seconds, date, timestamp, todayDhaka, pbDate, humanize, enumName, share, addDecimal } from "../format.js";
import { BreachKind, Dimension, type DelayStatistics } from "../gen/repat/v1/metrics_pb.js";
import { StepKind } from "../gen/repat/v1/repatriation_pb.js";
import { partyName, repatriation, invoiceReferences, mapLimited } from "../names.js";
import { table } from "../table.js";
import { chartFrame, delayChart, barChart, G20_ONE_HOUR, ONE_DAY, DEADLINE_120_DAYS, type DelaySeries, type Spread } from "../charts.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";

const SPANS = ["INITIATION_TO_FUNDS_AVAILABLE", "INVOICE_TO_REALIZATION", "REALIZATION_TO_CLAIM_FILED", "CLAIM_FILED_TO_DISBURSED"];

/** The filters, as kept in the page's address (nothing secret there). */
interface Filters {
  corridor: string;
  bank: string;
  channel: string;
  kind: string;
  from: string;
  to: string;
  by: string;
}

const FILTER_DIMS: { key: keyof Filters; dim: Dimension; field: keyof DelayStatistics; label: string }[] = [
  { key: "corridor", dim: Dimension.CORRIDOR, field: "corridor", label: "Corridor" },
  { key: "bank", dim: Dimension.INSTITUTION, field: "institution", label: "Bank (BIC)" },
  { key: "channel", dim: Dimension.CHANNEL, field: "channel", label: "Channel" },
  { key: "kind", dim: Dimension.PARTY_KIND, field: "partyKind", label: "Party kind" },
];
const COMPARE: { key: string; dim: Dimension; field: keyof DelayStatistics; label: string }[] = [
  ...FILTER_DIMS.map((d) => ({ key: d.key, dim: d.dim, field: d.field, label: d.label })),
  { key: "month", dim: Dimension.MONTH, field: "month", label: "Month" },
];

export function auditorPage(params: URLSearchParams): HTMLElement {
  const f: Filters = {
    corridor: params.get("corridor") ?? "", bank: params.get("bank") ?? "", channel: params.get("channel") ?? "",
    kind: params.get("kind") ?? "", from: params.get("from") ?? "", to: params.get("to") ?? "", by: params.get("by") ?? "",
  };
  return h(
    "div",
    {},
    h("h1", {}, "Auditor's view"),
    section("Where the money waits", loading((el) => delays(el, f), describeError)),
    section("Deadline breaches", breaches()),
    section("G20 scorecard", loading((el) => scorecard(el, f), describeError)),
    section("Incentive totals", loading((el) => incentives(el, f), describeError)),
    section("Audit trail", auditChain()),
  );
}

let options: Promise<Record<string, string[]>> | null = null;

/** The values each filter can take, from the statistics themselves. */
function filterOptions(): Promise<Record<string, string[]>> {
  if (!options) {
    options = (async () => {
      const out: Record<string, string[]> = {};
      await Promise.all(COMPARE.map(async (d) => {
        const r = await api.metrics.getDelayStatistics({ groupBy: [d.dim] });
        out[d.key] = [...new Set(r.groups.map((g) => String(g[d.field])).filter((v) => v !== ""))].sort();
      }));
      return out;
    })();
    options.catch(() => (options = null));
  }
  return options;
}

async function delays(el: HTMLElement, f: Filters): Promise<void> {
  const opts = await filterOptions();
  const select = (key: keyof Filters, label: string, values: string[], all: string) =>
    h("label", {}, label, h("select", { name: key, id: `filter-${key}` }, h("option", { value: "" }, all), values.map((v) => h("option", { value: v, selected: v === f[key] }, v))));
  const months = opts.month ?? [];
  const form = h(
    "form",
    { class: "filters", id: "delay-filters" },
    FILTER_DIMS.map((d) => select(d.key, d.label, opts[d.key] ?? [], "all")),
    select("from", "From month", months, "first"),
    select("to", "To month", months, "latest"),
    h("label", {}, "Compare by", h("select", { name: "by", id: "filter-by" }, h("option", { value: "" }, "nothing"), COMPARE.map((c) => h("option", { value: c.key, selected: c.key === f.by }, c.label)))),
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form).entries()) if (v !== "") p.set(k, String(v));
    location.hash = `#/auditor?${p}`;
  });
  // Grouping by a dimension and keeping one group is filtering by it, with
  // figures exact for that group: percentiles cannot be combined later.
  const filtered = FILTER_DIMS.filter((d) => f[d.key] !== "");
  const compare = COMPARE.find((c) => c.key === f.by);
  const groupBy = [...new Set([...filtered.map((d) => d.dim), ...(compare ? [compare.dim] : [])])];
  const r = await api.metrics.getDelayStatistics({ groupBy, startMonth: f.from, endMonth: f.to });
  const groups = r.groups.filter((g) => filtered.every((d) => String(g[d.field]) === f[d.key]));
  const seriesNames = compare ? [...new Set(groups.map((g) => String(g[compare.field])))].sort() : ["all"];
  const spread = (g: DelayStatistics): Spread => ({ count: Number(g.count), p50: seconds(g.p50) ?? 0, p90: seconds(g.p90) ?? 0, p99: seconds(g.p99) ?? 0, max: seconds(g.max) ?? 0, mean: seconds(g.mean) ?? 0 });
  const build = (measures: string[]): DelaySeries[] =>
    seriesNames.map((name) => ({
      name,
      values: measures.map((m) => {
        const g = groups.find((x) => x.measure === m && (!compare || String(x[compare.field]) === name));
        return g ? spread(g) : null;
      }),
    }));
  const stepOrder = (m: string) => (StepKind as unknown as Record<string, number>)[m] ?? 99;
  const waits = [...new Set(groups.map((g) => g.measure).filter((m) => !SPANS.includes(m)))].sort((a, b) => stepOrder(a) - stepOrder(b));
  const spans = SPANS.filter((m) => groups.some((g) => g.measure === m));
  const count = (ms: string[]) => groups.filter((g) => ms.includes(g.measure)).reduce((n, g) => n + Number(g.count), 0);
  const period = `Period: ${f.from || months[0] || "-"} to ${f.to || months.at(-1) || "-"} (Dhaka months the wait ended in)`;
  const chosen = filtered.map((d) => `${d.label.toLowerCase()} ${f[d.key]}`);
  const scope = `Scope: ${chosen.length ? chosen.join(", ") : "every corridor, bank, channel and party kind"}${compare ? `; compared by ${compare.label.toLowerCase()}` : ""}`;
  const accuracy = r.exact ? "exact" : `within ${share(r.relativeError)}`;
  const waitChart = chartFrame(`Waits before each step. ${period}. ${scope}. Count: ${count(waits)} observations (${accuracy}).`);
  const spanChart = chartFrame(`End-to-end spans. ${period}. ${scope}. Count: ${count(spans)} observations (${accuracy}).`);
  waitChart.frame.id = "chart-waits";
  spanChart.frame.id = "chart-spans";
  const rows = groups.slice().sort((a, b) => (SPANS.includes(a.measure) ? 100 : stepOrder(a.measure)) - (SPANS.includes(b.measure) ? 100 : stepOrder(b.measure)));
  clear(
    el,
    form,
    h("p", { class: "hint" }, "Bars run from the median to the 90th percentile; the diamond is the 99th. Dashed lines: the G20 targets (funds within one hour, the rest within a business day) and the 120-day repatriation deadline."),
    waits.length ? waitChart.frame : note("No wait observed in this scope."),
    spans.length ? spanChart.frame : note(f.bank ? "Spans have no bank: clear the bank filter to see them." : "No span observed in this scope."),
    table(rows, [
      { title: "Measure", cell: (g) => humanize(g.measure), csv: (g) => g.measure },
      ...(compare ? [{ title: compare.label, cell: (g: DelayStatistics) => String(g[compare.field]) }] : []),
      { title: "Count", cell: (g) => String(g.count), numeric: true },
      { title: "Min", cell: (g) => duration(g.min), csv: (g) => String(seconds(g.min) ?? ""), numeric: true },
      { title: "Median", cell: (g) => duration(g.p50), csv: (g) => String(seconds(g.p50) ?? ""), numeric: true },
      { title: "p90", cell: (g) => duration(g.p90), csv: (g) => String(seconds(g.p90) ?? ""), numeric: true },
      { title: "p95", cell: (g) => duration(g.p95), csv: (g) => String(seconds(g.p95) ?? ""), numeric: true },
      { title: "p99", cell: (g) => duration(g.p99), csv: (g) => String(seconds(g.p99) ?? ""), numeric: true },
      { title: "Max", cell: (g) => duration(g.max), csv: (g) => String(seconds(g.max) ?? ""), numeric: true },
      { title: "Mean", cell: (g) => duration(g.mean), csv: (g) => String(seconds(g.mean) ?? ""), numeric: true },
    ], { name: "delay-statistics", caption: `${rows.length} groups; ${r.percentileDefinition}; CSV durations in seconds` }),
  );
  if (waits.length) delayChart(waitChart.canvas, waits.map(humanize), build(waits), [G20_ONE_HOUR, ONE_DAY, DEADLINE_120_DAYS]);
  if (spans.length) delayChart(spanChart.canvas, spans.map(humanize), build(spans), [G20_ONE_HOUR, ONE_DAY, DEADLINE_120_DAYS], 200 * 86400);
}

function breaches(): HTMLElement {
  const kind = h("select", { id: "breach-kind", "aria-label": "deadline" },
    h("option", { value: String(BreachKind.REPATRIATION_LATE) }, "Money home after 120 days"),
    h("option", { value: String(BreachKind.CLAIM_WINDOW_EXPIRED) }, "Claim window expired"),
    h("option", { value: String(BreachKind.IN_FLIGHT) }, "Stuck in flight (over 2 days)"));
  const asOf = h("input", { type: "date", id: "breach-as-of", value: todayDhaka(), "aria-label": "as of" });
  const out = h("div", {});
  const load = () => {
    clear(out, loading(async (el) => {
      const list = await all(async (t) => {
        const r = await api.metrics.listDeadlineBreaches({ kind: Number(kind.value), asOf: pbDate(asOf.value), pageSize: 1000, pageToken: t });
        return { items: r.breaches, next: r.nextPageToken };
      }, 5000);
      const rows = await mapLimited(list, async (b) => {
        const r = await repatriation(b.repatriationId);
        return { b, party: await partyName(b.partyId), invoices: r ? await invoiceReferences(r) : b.repatriationId.slice(0, 8) };
      });
      rows.sort((a, b) => Number(b.b.daysLate - a.b.daysLate));
      clear(el, table(rows, [
        { title: "Party", cell: (x) => x.party },
        { title: "Invoices", cell: (x) => link(`#/journeys/${x.b.repatriationId}`, x.invoices), csv: (x) => x.invoices },
        { title: "Corridor", cell: (x) => x.b.corridor },
        { title: "Invoiced", cell: (x) => date(x.b.invoiceDate) },
        { title: "Deadline", cell: (x) => date(x.b.deadline) },
        { title: "Days past", cell: (x) => badge(String(x.b.daysLate), "bad"), csv: (x) => String(x.b.daysLate), numeric: true },
        { title: "Initiated", cell: (x) => timestamp(x.b.initiateTime) },
        { title: "Funds available", cell: (x) => timestamp(x.b.fundsAvailableTime) || "not yet" },
        { title: "Claim filed", cell: (x) => timestamp(x.b.claimFileTime) || "not yet" },
        { title: "Repatriation id", cell: (x) => x.b.repatriationId },
      ], { name: `breaches-${humanize(enumName(BreachKind, Number(kind.value))).toLowerCase().replace(/ /g, "-")}`, empty: "No breach as of that day.", caption: `${rows.length} breaches as of ${asOf.value} (Dhaka), most days past first` }));
    }, describeError));
  };
  kind.addEventListener("change", load);
  asOf.addEventListener("change", load);
  load();
  return h("div", {}, h("div", { class: "toolbar" }, kind, h("label", {}, "As of ", asOf)), out);
}

async function scorecard(el: HTMLElement, f: Filters): Promise<void> {
  const r = await api.metrics.getScorecard({ startMonth: f.from, endMonth: f.to });
  const entries = r.entries.filter((e) => !f.corridor || e.corridor === f.corridor);
  const months = [...new Set(entries.map((e) => e.month))].sort();
  const corridors = [...new Set(entries.map((e) => e.corridor))].sort();
  const total = entries.reduce((n, e) => n + Number(e.completed), 0);
  const chart = chartFrame(`Share of payments with funds available within one hour of initiation, by month of initiation. Period: ${months[0] ?? "-"} to ${months.at(-1) ?? "-"}. Scope: ${f.corridor ? `corridor ${f.corridor}` : "all corridors"}. Count: ${total} completed payments.`);
  const yes = (b: boolean) => badge(b ? "yes" : "no", b ? "ok" : "bad");
  clear(
    el,
    months.length ? chart.frame : null,
    table(entries, [
      { title: "Corridor", cell: (e) => e.corridor },
      { title: "Month", cell: (e) => e.month },
      { title: "Completed", cell: (e) => String(e.completed), numeric: true },
      { title: "Within 1 hour", cell: (e) => `${e.withinOneHour} (${share(e.shareWithinOneHour)})`, csv: (e) => e.shareWithinOneHour, numeric: true },
      { title: "Within 1 business day", cell: (e) => `${e.withinOneBusinessDay} (${share(e.shareWithinOneBusinessDay)})`, csv: (e) => e.shareWithinOneBusinessDay, numeric: true },
      { title: "Mean cost", cell: (e) => share(e.averageCost), csv: (e) => e.averageCost, numeric: true },
      { title: "Speed target (75% in 1h)", cell: (e) => yes(e.meetsSpeedTarget), csv: (e) => String(e.meetsSpeedTarget) },
      { title: "Cost target (1%)", cell: (e) => yes(e.meetsCostTarget), csv: (e) => String(e.meetsCostTarget) },
      { title: "Corridor cap (3%)", cell: (e) => yes(e.withinCorridorCostCap), csv: (e) => String(e.withinCorridorCostCap) },
    ], { name: "scorecard", caption: r.targets }),
  );
  if (months.length) {
    barChart(chart.canvas, months, corridors.map((c) => ({
      name: c,
      values: months.map((m) => { const e = entries.find((x) => x.corridor === c && x.month === m); return e ? Number(e.shareWithinOneHour) * 100 : null; }),
    })), "% within one hour", [{ value: 75, label: "G20 target: 75% within 1 hour", color: "#15803d" }]);
  }
}

async function incentives(el: HTMLElement, f: Filters): Promise<void> {
  const month = (m: string) => (m ? pbDate(`${m}-01`) : undefined);
  const r = await api.metrics.getIncentiveTotals({ startMonth: month(f.from), endMonth: month(f.to) });
  const byKey = new Map<string, { month: string; programme: string; assessed: string; claimed: string; disbursed: string; count: number; parties: Set<string> }>();
  for (const t of r.totals) {
    const key = `${t.month}|${t.programme}`;
    const row = byKey.get(key) ?? { month: t.month, programme: t.programme, assessed: "0", claimed: "0", disbursed: "0", count: 0, parties: new Set<string>() };
    row.assessed = addDecimal(row.assessed, t.assessed?.amount || "0");
    row.claimed = addDecimal(row.claimed, t.claimed?.amount || "0");
    row.disbursed = addDecimal(row.disbursed, t.disbursed?.amount || "0");
    row.count += Number(t.assessedCount);
    row.parties.add(t.partyId);
    byKey.set(key, row);
  }
  const rows = [...byKey.values()].sort((a, b) => a.month.localeCompare(b.month) || a.programme.localeCompare(b.programme));
  const bdt = (a: string) => moneyOf(a, "BDT");
  clear(el, table(rows, [
    { title: "Month", cell: (x) => x.month },
    { title: "Programme", cell: (x) => x.programme },
    { title: "Parties", cell: (x) => String(x.parties.size), numeric: true },
    { title: "Assessed eligible", cell: (x) => String(x.count), numeric: true },
    { title: "Assessed", cell: (x) => bdt(x.assessed), csv: (x) => x.assessed, numeric: true },
    { title: "Claimed", cell: (x) => bdt(x.claimed), csv: (x) => x.claimed, numeric: true },
    { title: "Disbursed", cell: (x) => bdt(x.disbursed), csv: (x) => x.disbursed, numeric: true },
  ], { name: "incentive-totals", caption: `Period: ${f.from || "first"} to ${f.to || "latest"}. All parties: assessed ${money(r.assessed)}, claimed ${money(r.claimed)}, disbursed ${money(r.disbursed)} (exact sums)` }));
}

function auditChain(): HTMLElement {
  const result = h("div", { id: "audit-result" });
  const verify = h("button", { type: "button", id: "verify-audit" }, "Verify the hash chain");
  verify.addEventListener("click", async () => {
    verify.disabled = true;
    clear(result, note("Recomputing every entry's hash…"));
    try {
      const r = await api.audit.verifyAuditChain({});
      clear(result, r.intact
        ? note(`Intact: ${r.entriesChecked} entries checked; head hash ${r.headHash}.`, "ok")
        : note(`BROKEN at entry ${r.firstBrokenSequence} of ${r.entriesChecked}: ${r.reason}`, "error"));
    } catch (e) {
      clear(result, note(describeError(e), "error"));
    }
    verify.disabled = false;
  });
  const method = h("input", { type: "text", id: "audit-method", placeholder: "method, e.g. repat.v1.ReconciliationService/ManualMatch", "aria-label": "method" });
  const hours = h("select", { id: "audit-since", "aria-label": "since" }, [["24", "last 24 hours"], ["168", "last 7 days"], ["720", "last 30 days"]].map(([v, t]) => h("option", { value: v }, t)));
  const entries = h("div", {});
  const load = () => clear(entries, loading(async (el) => {
    const since = timestampFromDate(new Date(Date.now() - Number(hours.value) * 3600_000));
    const list = await all(async (t) => {
      const r = await api.audit.listAuditEntries({ method: method.value.trim(), startTime: since, pageSize: 1000, pageToken: t });
      return { items: r.entries, next: r.nextPageToken };
    }, 20000);
    const newest = list.slice(-500).reverse();
    clear(el, table(newest, [
      { title: "#", cell: (e) => String(e.sequence), numeric: true },
      { title: "When", cell: (e) => timestamp(e.time) },
      { title: "Who", cell: (e) => `${e.subject} (${e.role})` },
      { title: "Method", cell: (e) => e.method },
      { title: "Record", cell: (e) => e.resource },
      { title: "Request id", cell: (e) => e.requestId },
      { title: "Hash", cell: (e) => h("code", {}, `${e.hash.slice(0, 16)}…`), csv: (e) => e.hash },
    ], { name: "audit-trail", caption: `${list.length} entries in the period${list.length > newest.length ? `, the newest ${newest.length} shown` : ""}, newest first` }));
  }, describeError));
  const form = h("form", { class: "toolbar" }, method, hours, h("button", { type: "submit", class: "secondary" }, "Show"));
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  load();
  return h("div", {}, h("div", { class: "toolbar" }, verify), result, form, entries);
}
