// A firm's home: its invoices and where each stands, the deadlines coming
// up, its claims, and its incentive by month.
import { api, all, describeError } from "../api.js";
import { h, clear, note, section, link, badge, loading } from "../dom.js";
import { money, moneyOf, atScaleOf, ruleDays, date, todayDhaka, addDays, daysBetween, relativeDays, humanize, enumName, addDecimal, compareDecimal, timestamp } from "../format.js";
import { RepatriationStatus, type Repatriation } from "../gen/repat/v1/repatriation_pb.js";
import { RealizationStatus, type Realization } from "../gen/repat/v1/reconciliation_pb.js";
import { ClaimStatus, ClaimStepKind, type Assessment } from "../gen/repat/v1/incentive_pb.js";
import { BreachKind } from "../gen/repat/v1/metrics_pb.js";
import { PartyKind, Zone, type Party } from "../gen/repat/v1/party_pb.js";
import type { Earning } from "../gen/repat/v1/earning_pb.js";
import { listParties, remember } from "../names.js";
import { table } from "../table.js";
import { session, canSeeEveryone } from "../session.js";
import { chartFrame, barChart } from "../charts.js";

export function homePage(params: URLSearchParams): HTMLElement {
  const holder = h("div", {});
  holder.append(loading(async (el) => {
    const s = session()!;
    const parties = await listParties();
    const chosen = params.get("party") ?? (!canSeeEveryone(s) || parties.length === 1 ? parties[0]?.id : undefined);
    const picker = h(
      "select",
      { id: "party-picker", "aria-label": "party" },
      h("option", { value: "" }, "Choose a firm or freelancer…"),
      parties.map((p) => h("option", { value: p.id, selected: p.id === chosen }, p.legalName)),
    );
    picker.addEventListener("change", () => (location.hash = `#/home?party=${picker.value}`));
    const p = parties.find((x) => x.id === chosen);
    clear(el, h("div", { class: "toolbar" }, h("label", { for: "party-picker" }, "Party "), picker), p ? h("div", {}, loading((inner) => renderHome(inner, p), describeError)) : note("Choose a party to see its invoices, deadlines, claims and incentive."));
  }, describeError));
  return h("div", {}, h("h1", {}, "Firm's home"), holder);
}

const REALIZED_STATUSES = [RepatriationStatus.FUNDS_AVAILABLE, RepatriationStatus.REALIZED, RepatriationStatus.INCENTIVE_CLAIMED, RepatriationStatus.INCENTIVE_DISBURSED];

interface InvoiceRow {
  e: Earning;
  realized: string;
  status: "unpaid" | "partly realized" | "realized";
  late: boolean;
  deadline: string;
  journeys: Repatriation[];
}

async function renderHome(el: HTMLElement, p: Party): Promise<void> {
  const partyId = p.id;
  const [earnings, realizations, repatriations, claims, totals, late, assessments, rules] = await Promise.all([
    all(async (t) => { const r = await api.earnings.listEarnings({ partyId, pageSize: 1000, pageToken: t }); return { items: r.earnings, next: r.nextPageToken }; }),
    all(async (t) => { const r = await api.reconciliation.listRealizations({ partyId, pageSize: 1000, pageToken: t }); return { items: r.realizations, next: r.nextPageToken }; }).catch(() => [] as Realization[]),
    all(async (t) => { const r = await api.repatriations.listRepatriations({ partyId, pageSize: 1000, pageToken: t }); return { items: r.repatriations, next: r.nextPageToken }; }),
    all(async (t) => { const r = await api.incentives.listClaims({ partyId, pageSize: 1000, pageToken: t }); return { items: r.claims, next: r.nextPageToken }; }),
    api.incentives.getIncentiveTotals({ partyId }),
    all(async (t) => { const r = await api.metrics.listDeadlineBreaches({ partyId, kind: BreachKind.REPATRIATION_LATE, pageSize: 1000, pageToken: t }); return { items: r.breaches, next: r.nextPageToken }; }),
    all(async (t) => { const r = await api.incentives.listAssessments({ partyId, pageSize: 1000, pageToken: t }); return { items: r.assessments, next: r.nextPageToken }; }).catch(() => [] as Assessment[]),
    api.incentives.getRuleSet({}).catch(() => null),
  ]);
  remember(earnings);
  const today = todayDhaka();
  const programme = rules?.programmes.find((x) => x.partyKinds.includes(enumName(PartyKind, p.kind))) ?? rules?.programmes[0];
  const repDays = ruleDays(programme?.repatriationDeadline) ?? 120;
  const lateRepatriations = new Set(late.map((b) => b.repatriationId));
  const recon = new Map(realizations.map((r) => [r.earningId, r]));
  const rows: InvoiceRow[] = earnings.map((e) => {
    const journeys = repatriations.filter((r) => r.allocations.some((a) => a.earningId === e.id));
    // Realized: what reconciliation matched, or what journeys whose funds
    // became available carry for it, whichever is more.
    let byJourney = "0";
    for (const r of journeys.filter((r) => REALIZED_STATUSES.includes(r.status))) {
      for (const a of r.allocations.filter((a) => a.earningId === e.id)) byJourney = addDecimal(byJourney, a.amount?.amount ?? "0");
    }
    const matched = recon.get(e.id)?.realized?.amount ?? "0";
    const realized = compareDecimal(matched, byJourney) > 0 ? matched : byJourney;
    const amount = e.amount?.amount ?? "0";
    const full = compareDecimal(realized, amount) >= 0 || recon.get(e.id)?.status === RealizationStatus.REALIZED || recon.get(e.id)?.status === RealizationStatus.OVERPAID;
    const status = full ? "realized" : compareDecimal(realized, "0") > 0 ? "partly realized" : "unpaid";
    const deadline = addDays(date(e.invoiceDate), repDays);
    const lateNow = (!full && today > deadline) || journeys.some((r) => lateRepatriations.has(r.id));
    return { e, realized, status, late: lateNow, deadline, journeys };
  });
  const open = rows.filter((r) => r.status !== "realized" && r.deadline >= today).sort((a, b) => a.deadline.localeCompare(b.deadline));
  const claimedRepatriations = new Set(claims.flatMap((c) => c.items.map((i) => i.repatriationId)));
  const current = new Map<string, Assessment>();
  for (const a of assessments) current.set(a.repatriationId, a);
  const claimDue = [...current.values()].filter((a) => a.eligible && !claimedRepatriations.has(a.repatriationId) && date(a.claimDeadline) >= today);
  const upcoming = [
    ...open.map((r) => ({ what: `Money home for ${r.e.invoiceReference}`, day: r.deadline, href: r.journeys[0] ? `#/journeys/${r.journeys[0].id}` : "" })),
    ...claimDue.map((a) => ({ what: `Incentive claim of ${money(a.incentive)}`, day: date(a.claimDeadline), href: `#/journeys/${a.repatriationId}` })),
  ].sort((a, b) => a.day.localeCompare(b.day));

  const statusCell = (r: InvoiceRow) => h("span", {}, badge(r.status, r.status === "realized" ? "ok" : r.status === "unpaid" ? "warn" : "info"), r.late ? badge("late", "bad") : null);
  const monthly = new Map<string, { assessed: string; claimed: string; disbursed: string; currency: string }>();
  for (const t of totals.totals) {
    const m = monthly.get(t.month) ?? { assessed: "0", claimed: "0", disbursed: "0", currency: t.assessed?.currency || "BDT" };
    m.assessed = addDecimal(m.assessed, t.assessed?.amount || "0");
    m.claimed = addDecimal(m.claimed, t.claimed?.amount || "0");
    m.disbursed = addDecimal(m.disbursed, t.disbursed?.amount || "0");
    monthly.set(t.month, m);
  }
  const months = [...monthly.keys()].sort();
  const counts = { unpaid: rows.filter((r) => r.status === "unpaid").length, partly: rows.filter((r) => r.status === "partly realized").length, realized: rows.filter((r) => r.status === "realized").length, late: rows.filter((r) => r.late).length };
  const chart = chartFrame(`Incentive by month (BDT). Period: ${months[0] ?? "-"} to ${months.at(-1) ?? "-"}. Scope: ${p.legalName}. Count: ${totals.totals.length} month and programme totals.`);

  clear(
    el,
    h("dl", { class: "facts" },
      h("dt", {}, "Party"), h("dd", {}, `${p.legalName} (${humanize(enumName(PartyKind, p.kind))}, ${p.country})`),
      h("dt", {}, "Zone"), h("dd", {}, humanize(enumName(Zone, p.zone)) || "none"),
      h("dt", {}, "Memberships"), h("dd", {}, p.memberships.map((m) => `${m.association} ${m.membershipNumber}`).join(", ") || "none"),
      h("dt", {}, "Invoices"), h("dd", {}, `${rows.length}: ${counts.realized} realized, ${counts.partly} partly realized, ${counts.unpaid} unpaid; ${counts.late} late`),
    ),
    section("Deadlines coming up", table(upcoming, [
      { title: "What", cell: (u) => (u.href ? link(u.href, u.what) : u.what), csv: (u) => u.what },
      { title: "By", cell: (u) => u.day },
      { title: "When", cell: (u) => relativeDays(daysBetween(today, u.day)) },
    ], { name: "upcoming-deadlines", empty: "Nothing due.", caption: `As of ${today} (Dhaka)` })),
    section("Invoices", table(rows, [
      { title: "Invoice", cell: (r) => (r.journeys[0] ? link(`#/journeys/${r.journeys[0].id}`, r.e.invoiceReference) : r.e.invoiceReference), csv: (r) => r.e.invoiceReference },
      { title: "Client", cell: (r) => `${r.e.clientName} (${r.e.clientCountry})` },
      { title: "Amount", cell: (r) => money(r.e.amount), numeric: true },
      { title: "Invoiced", cell: (r) => date(r.e.invoiceDate) },
      { title: "Due", cell: (r) => date(r.e.dueDate) },
      { title: "Realized", cell: (r) => moneyOf(atScaleOf(r.realized, r.e.amount?.amount ?? ""), r.e.amount?.currency ?? ""), numeric: true, csv: (r) => r.realized },
      { title: "Status", cell: statusCell, csv: (r) => `${r.status}${r.late ? ", late" : ""}` },
      { title: "120-day deadline", cell: (r) => r.deadline },
    ], { name: "invoices", caption: `${rows.length} invoices` })),
    section("Claims", table(claims, [
      { title: "Claim", cell: (c) => c.id.slice(0, 8), csv: (c) => c.id },
      { title: "Stage", cell: (c) => badge(humanize(enumName(ClaimStatus, c.status)), c.status === ClaimStatus.REJECTED ? "bad" : c.status === ClaimStatus.DISBURSED ? "ok" : "info"), csv: (c) => enumName(ClaimStatus, c.status) },
      { title: "Invoices", cell: (c) => c.items.map((i) => rows.find((r) => r.journeys.some((j) => j.id === i.repatriationId))?.e.invoiceReference ?? i.repatriationId.slice(0, 8)).join(", ") },
      { title: "Claimed", cell: (c) => money(c.claimed), numeric: true },
      { title: "Disbursed", cell: (c) => money(c.disbursed), numeric: true },
      { title: "Steps", cell: (c) => c.steps.map((s) => `${humanize(enumName(ClaimStepKind, s.kind))} ${timestamp(s.occurTime)}${s.reason ? ` (${s.reason})` : ""}`).join("; ") },
    ], { name: "claims", empty: "No claim filed." })),
    section("Incentive by month", months.length > 0 ? chart.frame : null, table(months, [
      { title: "Month", cell: (m) => m },
      { title: "Assessed", cell: (m) => moneyOf(monthly.get(m)!.assessed, monthly.get(m)!.currency), csv: (m) => monthly.get(m)!.assessed, numeric: true },
      { title: "Claimed", cell: (m) => moneyOf(monthly.get(m)!.claimed, monthly.get(m)!.currency), csv: (m) => monthly.get(m)!.claimed, numeric: true },
      { title: "Disbursed", cell: (m) => moneyOf(monthly.get(m)!.disbursed, monthly.get(m)!.currency), csv: (m) => monthly.get(m)!.disbursed, numeric: true },
    ], { name: "incentive-by-month", caption: `Totals: assessed ${money(totals.assessed)}, claimed ${money(totals.claimed)}, disbursed ${money(totals.disbursed)}` })),
  );
  if (months.length > 0) {
    const n = (s: string) => Number(s); // display only: the table carries the exact figures
    barChart(chart.canvas, months, [
      { name: "assessed", values: months.map((m) => n(monthly.get(m)!.assessed)) },
      { name: "claimed", values: months.map((m) => n(monthly.get(m)!.claimed)) },
      { name: "disbursed", values: months.map((m) => n(monthly.get(m)!.disbursed)) },
    ], "BDT");
  }
}
