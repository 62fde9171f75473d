// The journey tracker: find a payment by invoice reference, UETR,
// end-to-end id or party, then follow it hop by hop.
import { api, all, describeError } from "../api.js";
import { GPI_STATUS, reasonText } from "../codes.js";
import { h, clear, note, section, link, badge, loading } from "../dom.js";
import { money, duration, timestamp, date, enumName, humanize, todayDhaka, addDays, daysBetween, relativeDays, dhakaDate, share, seconds, ruleDays } from "../format.js";
import { GpiStatus, RepatriationStatus, StepKind, Channel, type Repatriation, type Step } from "../gen/repat/v1/repatriation_pb.js";
import { MatchMethod } from "../gen/repat/v1/reconciliation_pb.js";
import type { Assessment, RuleSet } from "../gen/repat/v1/incentive_pb.js";
import type { Earning } from "../gen/repat/v1/earning_pb.js";
import { PartyKind } from "../gen/repat/v1/party_pb.js";
import { listParties, earning, partyName, party, invoiceReferences, mapLimited } from "../names.js";
import { table } from "../table.js";
import { session, canWrite } from "../session.js";
import { chartFrame, barChart } from "../charts.js";

type By = "any" | "invoice" | "uetr" | "e2e" | "party";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function journeysPage(params: URLSearchParams, rest: string[]): HTMLElement {
  if (rest[0]) return journeyView(rest[0]);
  const by = (params.get("by") as By) || "any";
  const q = params.get("q") ?? "";
  const select = h(
    "select",
    { id: "search-by", "aria-label": "search by" },
    ([["any", "Any reference"], ["invoice", "Invoice reference"], ["uetr", "UETR"], ["e2e", "End-to-end id"], ["party", "Party name"]] as const).map(([v, t]) =>
      h("option", { value: v, selected: v === by }, t),
    ),
  );
  const input = h("input", { id: "search-text", type: "search", value: q, placeholder: "INV-2024-0001, a UETR, an end-to-end id or a firm's name", "aria-label": "search for", autocomplete: "off" });
  const form = h("form", { class: "search", role: "search" }, select, input, h("button", { type: "submit" }, "Find"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams({ by: select.value, q: input.value.trim() });
    location.hash = `#/journeys?${p}`;
  });
  const results = h("div", { id: "results" });
  if (q) results.append(loading((el) => search(el, by, q), describeError));
  else results.append(note("Search for a payment by the invoice it pays, its UETR or end-to-end id, or by the party paid."));
  return h("div", {}, h("h1", {}, "Journey tracker"), form, results);
}

async function search(el: HTMLElement, by: By, q: string): Promise<void> {
  const found = new Map<string, Repatriation>();
  const add = (list: Repatriation[]) => list.forEach((r) => found.set(r.id, r));
  const byRef = async (fields: { invoiceReference?: string; uetr?: string; endToEndId?: string }) =>
    add(await all(async (pageToken) => {
      const r = await api.repatriations.searchRepatriations({ ...fields, pageSize: 200, pageToken });
      return { items: r.repatriations, next: r.nextPageToken };
    }, 1000));
  if (by === "party") {
    const needle = q.toLowerCase();
    const matching = (await listParties()).filter((p) => p.legalName.toLowerCase().includes(needle) || p.id === q);
    for (const p of matching.slice(0, 20)) {
      add(await all(async (pageToken) => {
        const r = await api.repatriations.listRepatriations({ partyId: p.id, pageSize: 500, pageToken });
        return { items: r.repatriations, next: r.nextPageToken };
      }, 2000));
    }
  } else {
    const tries: Promise<void>[] = [];
    if (by === "invoice" || by === "any") tries.push(byRef({ invoiceReference: q }));
    if (by === "uetr" || (by === "any" && UUID.test(q))) tries.push(byRef({ uetr: q }));
    if (by === "e2e" || by === "any") tries.push(byRef({ endToEndId: q }));
    await Promise.all(tries);
  }
  const rows = [...found.values()];
  const labels = await mapLimited(rows, async (r) => ({ r, party: await partyName(r.partyId), invoices: await invoiceReferences(r) }));
  clear(
    el,
    table(labels, [
      { title: "Invoices", cell: (x) => link(`#/journeys/${x.r.id}`, x.invoices || "(journey)"), csv: (x) => x.invoices },
      { title: "Party", cell: (x) => x.party },
      { title: "Expected", cell: (x) => money(x.r.expectedAmount), csv: (x) => `${x.r.expectedAmount?.amount ?? ""} ${x.r.expectedAmount?.currency ?? ""}`.trim(), numeric: true },
      { title: "Channel", cell: (x) => humanize(enumName(Channel, x.r.channel)) },
      { title: "From", cell: (x) => x.r.payerCountry },
      { title: "Status", cell: (x) => statusBadge(x.r.status), csv: (x) => enumName(RepatriationStatus, x.r.status) },
      { title: "Steps", cell: (x) => String(x.r.stepCount), numeric: true },
      { title: "Opened", cell: (x) => timestamp(x.r.createTime) },
      { title: "Repatriation id", cell: (x) => x.r.id },
    ], { name: "journeys", empty: `No journey found for "${q}".`, caption: `${rows.length} ${rows.length === 1 ? "journey" : "journeys"} found for "${q}"` }),
  );
}

export function statusBadge(s: RepatriationStatus): HTMLElement {
  const name = enumName(RepatriationStatus, s);
  const kind = s === RepatriationStatus.RETURNED || s === RepatriationStatus.REJECTED ? "bad" : s >= RepatriationStatus.FUNDS_AVAILABLE ? "ok" : "warn";
  return badge(humanize(name), kind);
}

function journeyView(id: string): HTMLElement {
  return h("div", {}, h("p", {}, link("#/journeys", "← Journey tracker")), loading((el) => renderJourney(el, id), describeError));
}

async function renderJourney(el: HTMLElement, id: string): Promise<void> {
  const r = await api.repatriations.getRepatriation({ id });
  const [p, invoices, assessments, rules] = await Promise.all([
    party(r.partyId),
    Promise.all(r.allocations.map(async (a) => ({ a, e: await earning(a.earningId) }))),
    api.incentives.listAssessments({ repatriationId: id, pageSize: 1000 }).then((x) => x.assessments).catch(() => [] as Assessment[]),
    api.incentives.getRuleSet({}).catch(() => null),
  ]);
  const matches = (await Promise.all(r.allocations.map((a) => api.reconciliation.listMatches({ earningId: a.earningId, pageSize: 1000 }).then((x) => x.matches).catch(() => [])))).flat();
  const current = assessments.at(-1);
  const refs = invoices.map((x) => x.e?.invoiceReference ?? x.a.earningId.slice(0, 8)).join(", ");
  clear(
    el,
    h("h1", {}, `Journey of ${refs}`),
    h(
      "dl",
      { class: "facts" },
      fact("Party", p ? `${p.legalName} (${humanize(enumName(PartyKind, p.kind))})` : r.partyId),
      fact("Expected", money(r.expectedAmount)),
      fact("Channel", humanize(enumName(Channel, r.channel))),
      fact("Corridor", `${r.payerCountry} → BD`),
      fact("Status", statusBadge(r.status)),
      fact("Opened", timestamp(r.createTime)),
      fact("Repatriation id", r.id),
    ),
    hops(r),
    spans(r),
    deadlines(r, invoices.map((x) => x.e).filter((e): e is Earning => e !== null), current, rules, p?.kind ?? PartyKind.UNSPECIFIED),
    section(
      "Reconciliation matches",
      table(matches, [
        { title: "Invoice", cell: (m) => invoices.find((x) => x.a.earningId === m.earningId)?.e?.invoiceReference ?? m.earningId },
        { title: "Method", cell: (m) => humanize(enumName(MatchMethod, m.method)) },
        { title: "Covered", cell: (m) => money(m.covered), numeric: true },
        { title: "Credit converted", cell: (m) => money(m.converted), numeric: true },
        { title: "Fee gap", cell: (m) => money(m.feeGap), numeric: true },
        { title: "FX gap", cell: (m) => money(m.fxGap), numeric: true },
        { title: "Rate", cell: (m) => (m.fxRate ? `${m.fxRate.sourceCurrency}/${m.fxRate.targetCurrency} ${m.fxRate.rate}` : "") },
        { title: "Days after invoice", cell: (m) => String(m.days), numeric: true },
        { title: "Reference matched", cell: (m) => m.reference },
        { title: "Made", cell: (m) => timestamp(m.createTime) },
      ], { name: `matches-${refs}`, empty: "No bank statement credit has been matched to these invoices." }),
    ),
    assessmentSection(r, current),
  );
  drawWaits(el, r, refs);
}

function fact(term: string, value: Node | string): HTMLElement[] {
  return [h("dt", {}, term), h("dd", {}, value)];
}

function fees(s: Step): string {
  return s.fees.map((f) => `${money(f.amount)} by ${f.chargedBy || "?"}${f.kind ? ` (${f.kind.toLowerCase()})` : ""}`).join("; ");
}

function hops(r: Repatriation): HTMLElement {
  const steps = r.timeline;
  return section(
    "Hops",
    table(steps, [
      { title: "#", cell: (s) => String(steps.indexOf(s) + 1), numeric: true },
      { title: "Step", cell: (s) => humanize(enumName(StepKind, s.kind)), csv: (s) => enumName(StepKind, s.kind) },
      { title: "Institution", cell: (s) => s.institutionBic },
      { title: "Occurred (Dhaka)", cell: (s) => timestamp(s.occurredAt), csv: (s) => (s.occurredAt ? new Date(Number(s.occurredAt.seconds) * 1000).toISOString() : "") },
      { title: "Wait before", cell: (s) => duration(s.waitBefore), csv: (s) => String(seconds(s.waitBefore) ?? "") },
      { title: "Amount", cell: (s) => money(s.amount), numeric: true },
      { title: "Fees (who charged)", cell: (s) => fees(s) },
      { title: "FX", cell: (s) => (s.fxRate ? `1 ${s.fxRate.sourceCurrency} = ${s.fxRate.rate} ${s.fxRate.targetCurrency}` : "") },
      { title: "gpi status", cell: (s) => { const n = enumName(GpiStatus, s.gpiStatus); return n ? `${n} — ${GPI_STATUS[n] ?? ""}` : ""; } },
      { title: "Reason", cell: (s) => reasonText(s.reasonCode) },
      { title: "UETR / end-to-end id", cell: (s) => [s.uetr, s.endToEndId].filter(Boolean).join(" / ") },
      { title: "Recorded", cell: (s) => timestamp(s.recordedAt) },
      { title: "Note", cell: (s) => s.note },
    ], { name: "hops", empty: "No step recorded yet.", caption: `${steps.length} steps, in the order they occurred` }),
    h("div", { id: "waits-chart" }),
  );
}

function drawWaits(el: HTMLElement, r: Repatriation, refs: string): void {
  const holder = el.querySelector<HTMLElement>("#waits-chart");
  const steps = r.timeline.filter((s) => s.waitBefore);
  if (!holder || steps.length === 0) return;
  const first = r.timeline[0], last = r.timeline.at(-1)!;
  const { frame, canvas } = chartFrame(
    `Wait before each hop. Period: ${timestamp(first.occurredAt)} to ${timestamp(last.occurredAt)}. Scope: the journey of ${refs}. Count: ${steps.length} waits.`,
  );
  holder.append(frame);
  barChart(canvas, steps.map((s) => humanize(enumName(StepKind, s.kind))), [{ name: "wait (hours)", values: steps.map((s) => (seconds(s.waitBefore) ?? 0) / 3600) }], "hours (log scale)", [
    { value: 1, label: "G20: 1 hour", color: "#15803d" },
    { value: 24, label: "1 day", color: "#b45309" },
  ], true);
}

function spans(r: Repatriation): HTMLElement {
  const d = r.durations;
  const f = r.fees;
  return section(
    "How long, and what it cost",
    h(
      "dl",
      { class: "facts" },
      fact("Initiation to funds available", duration(d?.initiationToFundsAvailable) || "not yet"),
      fact("Invoice to realization", d?.invoiceToRealization ? `${duration(d.invoiceToRealization)} (${d.invoiceToRealizationDays} calendar days)` : "not yet"),
      fact("First step to last", duration(d?.total)),
      fact("Fees recorded", f?.totalFees.map(money).join(", ") || "none"),
      fact("Fees as a share of the amount sent", f?.feeShareOfInitiated ? share(f.feeShareOfInitiated) : ""),
      fact("Sent minus credited", money(f?.initiatedMinusCredited)),
    ),
  );
}

function deadlines(r: Repatriation, invoices: Earning[], a: Assessment | undefined, rules: RuleSet | null, kind: PartyKind): HTMLElement {
  const today = todayDhaka();
  const kindName = enumName(PartyKind, kind);
  const programme = rules?.programmes.find((p) => p.partyKinds.includes(kindName)) ?? rules?.programmes[0];
  const earliest = invoices.map((e) => date(e.invoiceDate)).sort()[0] ?? "";
  const credited = r.timeline.find((s) => s.kind === StepKind.BENEFICIARY_CREDITED);
  const realized = credited ? dhakaDate(credited.occurredAt) : "";
  const claimed = r.timeline.find((s) => s.kind === StepKind.INCENTIVE_CLAIM_FILED);
  const repDays = ruleDays(programme?.repatriationDeadline);
  const claimDays = ruleDays(programme?.claimWindow);
  const repDeadline = date(a?.repatriationDeadline) || (earliest && repDays !== null ? addDays(earliest, repDays) : "");
  const claimDeadline = date(a?.claimDeadline) || (realized && claimDays !== null ? addDays(realized, claimDays) : "");
  const rows: { name: string; rule: string; deadline: string; met: string; standing: HTMLElement }[] = [];
  if (repDeadline) {
    rows.push({
      name: "Money home (realization)",
      rule: `${programme?.repatriationDeadline ?? ""} from the invoice of ${earliest}`,
      deadline: repDeadline,
      met: realized,
      standing: standing(repDeadline, realized, today),
    });
  }
  if (claimDeadline) {
    const filed = claimed ? dhakaDate(claimed.occurredAt) : "";
    rows.push({ name: "Incentive claim filed", rule: `${programme?.claimWindow ?? ""} from realization on ${realized}`, deadline: claimDeadline, met: filed, standing: standing(claimDeadline, filed, today) });
  }
  return section(
    "Deadlines",
    table(rows, [
      { title: "Deadline", cell: (x) => x.name },
      { title: "Rule", cell: (x) => x.rule },
      { title: "Date", cell: (x) => x.deadline },
      { title: "Done on", cell: (x) => x.met || "not yet" },
      { title: "Standing", cell: (x) => x.standing },
    ], { name: "deadlines", empty: "No deadline applies yet.", caption: `As of ${today} (Dhaka), under rule set ${a?.ruleSetVersion || rules?.version || "?"}` }),
  );
}

function standing(deadline: string, doneOn: string, today: string): HTMLElement {
  if (doneOn) {
    const late = daysBetween(deadline, doneOn);
    return late > 0 ? badge(`met ${late} days late`, "bad") : badge(`met with ${-late} days to spare`, "ok");
  }
  const left = daysBetween(today, deadline);
  return left < 0 ? badge(`missed: ${-left} days past`, "bad") : badge(`due ${relativeDays(left)}`, left <= 14 ? "warn" : "info");
}

function assessmentSection(r: Repatriation, a: Assessment | undefined): HTMLElement {
  const s = session();
  if (!a) {
    const out = h("div", {});
    const button = h("button", { type: "button", id: "assess" }, "Assess now");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api.incentives.assessRepatriation({ requestId: crypto.randomUUID(), repatriationId: r.id });
        location.reload();
      } catch (e) {
        out.append(note(describeError(e), "error"));
        button.disabled = false;
      }
    });
    return section("Incentive assessment", note("Not assessed yet."), s && canWrite(s) ? button : null, out);
  }
  return section(
    "Incentive assessment",
    h(
      "dl",
      { class: "facts" },
      fact("Verdict", a.eligible ? badge("eligible", "ok") : badge("not eligible", "bad")),
      fact("Programme", a.programme),
      fact("Rate", a.rate ? `${a.rate} (${a.rateSource})` : ""),
      fact("Base", money(a.base)),
      fact("Incentive", money(a.incentive)),
      fact("Rule set", a.ruleSetVersion),
      fact("Assessed", timestamp(a.assessTime)),
    ),
    a.violations.length > 0
      ? table(a.violations, [
          { title: "Rule broken", cell: (v) => v.code },
          { title: "Why", cell: (v) => v.message },
          { title: "Source", cell: (v) => v.source },
        ], { name: "violations" })
      : null,
    h("h3", {}, "The arithmetic"),
    table(a.arithmetic, [
      { title: "Step", cell: (c) => c.description },
      { title: "Operation", cell: (c) => h("code", {}, c.expression), csv: (c) => c.expression },
      { title: "Result", cell: (c) => c.result, numeric: true },
    ], { name: "arithmetic", caption: "Every multiplication and rounding, exact decimals" }),
  );
}
