// The exceptions worklist: credits and invoices matching left open, why,
// and the nearest candidates; a person matches or unmatches by hand, with
// a note, through the same calls (same rules, same audit trail).
import { api, all, describeError } from "../api.js";
import { EXCEPTION_REASONS } from "../codes.js";
import { h, clear, note, section, loading } from "../dom.js";
import { money, timestamp, humanize, date } from "../format.js";
import { MatchMethod, type ReconciliationException, type Match } from "../gen/repat/v1/reconciliation_pb.js";
import { listParties, partyName, earning, mapLimited, forget } from "../names.js";
import { table } from "../table.js";
import { session, canWrite, canSeeEveryone } from "../session.js";

export function exceptionsPage(params: URLSearchParams): HTMLElement {
  const partyId = params.get("party") ?? "";
  const flash = params.get("done");
  return h(
    "div",
    {},
    h("h1", {}, "Exceptions"),
    flash ? note(flash, "ok") : null,
    loading((el) => render(el, partyId), describeError),
  );
}

interface Row {
  x: ReconciliationException;
  party: string;
  about: string;
  candidates: { id: string; label: string; amount: string; difference: string; days: string }[];
}

async function render(el: HTMLElement, partyId: string): Promise<void> {
  const s = session()!;
  const parties = await listParties();
  const picker = h("select", { id: "party-filter", "aria-label": "party" },
    canSeeEveryone(s) ? h("option", { value: "" }, "All parties") : null,
    parties.map((p) => h("option", { value: p.id, selected: p.id === partyId }, p.legalName)));
  picker.addEventListener("change", () => (location.hash = `#/exceptions?party=${picker.value}`));
  const scope = partyId || (canSeeEveryone(s) ? "" : (parties[0]?.id ?? ""));
  const exceptions = await all(async (t) => {
    const r = await api.reconciliation.listExceptions({ partyId: scope, pageSize: 1000, pageToken: t });
    return { items: r.exceptions, next: r.nextPageToken };
  }, 5000);
  const rows: Row[] = await mapLimited(exceptions, async (x) => ({
    x,
    party: await partyName(x.partyId),
    about: x.creditId ? creditText(x) : `invoice ${(await earning(x.earningId))?.invoiceReference ?? x.earningId.slice(0, 8)}`,
    candidates: await Promise.all(x.candidates.map(async (c) => {
      const e = x.creditId ? await earning(c.id) : null;
      return {
        id: c.id,
        label: e ? `${e.invoiceReference} (${e.clientName})` : `credit ${c.id.slice(0, 8)}`,
        amount: money(c.amount),
        difference: money(c.amountDifference),
        days: c.hasDays ? `${c.days} days after invoice` : "",
      };
    })),
  }));
  const matches = await all(async (t) => {
    const r = await api.reconciliation.listMatches({ partyId: scope, pageSize: 1000, pageToken: t });
    return { items: r.matches, next: r.nextPageToken };
  }, 5000).catch(() => [] as Match[]);
  const manual = matches.filter((m) => m.method === MatchMethod.MANUAL);
  const writable = canWrite(s);
  clear(
    el,
    h("div", { class: "toolbar" }, h("label", { for: "party-filter" }, "Party "), picker),
    section(
      "Open exceptions",
      table(rows, [
        { title: "Party", cell: (r) => r.party },
        { title: "About", cell: (r) => r.about },
        { title: "Reason", cell: (r) => h("span", { title: EXCEPTION_REASONS[r.x.code] ?? "" }, `${r.x.code} — ${EXCEPTION_REASONS[r.x.code] ?? humanize(r.x.code)}`), csv: (r) => r.x.code },
        { title: "What the matcher says", cell: (r) => r.x.message },
        { title: "Nearest candidates", cell: (r) => h("ul", { class: "plain" }, r.candidates.map((c) => h("li", {}, `${c.label}: ${c.amount}, difference ${c.difference}${c.days ? `, ${c.days}` : ""}`))), csv: (r) => r.candidates.map((c) => `${c.label} ${c.amount}`).join("; ") },
        { title: "", cell: (r) => (writable && r.x.creditId && r.candidates.length > 0 ? matchForm(r) : ""), csv: () => "" },
      ], { name: "exceptions", empty: "No open exception: every credit is matched or explained.", caption: `${rows.length} open exceptions` }),
    ),
    section(
      "Matched by hand",
      table(manual, [
        { title: "Credit", cell: (m) => m.creditId.slice(0, 8), csv: (m) => m.creditId },
        { title: "Invoice", cell: (m) => h("span", { "data-earning": m.earningId }, m.earningId.slice(0, 8)), csv: (m) => m.earningId },
        { title: "Covered", cell: (m) => money(m.covered), numeric: true },
        { title: "Made", cell: (m) => timestamp(m.createTime) },
        { title: "", cell: (m) => (writable ? unmatchForm(m) : ""), csv: () => "" },
      ], { name: "manual-matches", empty: "Nothing matched by hand yet." }),
    ),
    canSeeEveryone(s) ? section("Decisions in the audit trail", loading(auditTrail, describeError)) : null,
  );
  // Invoice references in place of ids, once known.
  for (const span of el.querySelectorAll<HTMLElement>("[data-earning]")) {
    void earning(span.dataset.earning!).then((e) => { if (e) span.textContent = e.invoiceReference; });
  }
}

/** "credit of USD 36,000.00 on 2024-03-10 from Harbour Education (PAYMENT FOR SERVICES)". */
function creditText(x: ReconciliationException): string {
  const c = x.credit;
  if (!c) return `credit ${x.creditId.slice(0, 8)}`;
  const when = date(c.valueDate) || date(c.bookingDate);
  const refs = [c.remittance, c.servicerReference && `ref ${c.servicerReference}`, c.endToEndId && `e2e ${c.endToEndId}`].filter(Boolean).join("; ");
  return `credit of ${money(c.amount)}${when ? ` on ${when}` : ""}${c.counterparty ? ` from ${c.counterparty}` : ""}${refs ? ` (${refs})` : ""}`;
}

function matchForm(r: Row): HTMLElement {
  const choice = h("select", { "aria-label": "invoice to match", class: "match-choice" }, r.candidates.map((c) => h("option", { value: c.id }, c.label)));
  const why = h("input", { type: "text", placeholder: "why (kept in the audit trail)", "aria-label": "note", class: "match-note", required: true });
  const out = h("div", { class: "form-status" });
  const form = h("form", { class: "inline" }, choice, why, h("button", { type: "submit" }, "Match"), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (why.value.trim() === "") return;
    try {
      const res = await api.reconciliation.manualMatch({ requestId: crypto.randomUUID(), creditId: r.x.creditId, allocations: [{ earningId: choice.value }], note: why.value.trim() });
      forget();
      const label = r.candidates.find((c) => c.id === choice.value)?.label ?? "";
      reloadWith(`Matched the ${creditText(r.x)} to ${label}: ${res.matches.map((m) => money(m.covered)).join(", ")} covered.`);
    } catch (err) {
      clear(out, note(describeError(err), "error"));
    }
  });
  return form;
}

function unmatchForm(m: Match): HTMLElement {
  const why = h("input", { type: "text", placeholder: "why", "aria-label": "note", required: true });
  const out = h("div", { class: "form-status" });
  const form = h("form", { class: "inline" }, why, h("button", { type: "submit", class: "secondary" }, "Unmatch"), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (why.value.trim() === "") return;
    try {
      await api.reconciliation.unmatch({ requestId: crypto.randomUUID(), creditId: m.creditId, note: why.value.trim() });
      forget();
      reloadWith(`Unmatched credit ${m.creditId.slice(0, 8)}; it waits for a manual match.`);
    } catch (err) {
      clear(out, note(describeError(err), "error"));
    }
  });
  return form;
}

function reloadWith(message: string): void {
  const [path, query = ""] = location.hash.split("?");
  const p = new URLSearchParams(query);
  p.set("done", message);
  location.hash = `${path}?${p}`;
}

async function auditTrail(el: HTMLElement): Promise<void> {
  const methods = ["repat.v1.ReconciliationService/ManualMatch", "repat.v1.ReconciliationService/Unmatch"];
  const entries = (await Promise.all(methods.map((method) => api.audit.listAuditEntries({ method, pageSize: 1000 }).then((r) => r.entries)))).flat()
    .sort((a, b) => Number(b.sequence - a.sequence));
  clear(el, table(entries, [
    { title: "#", cell: (e) => String(e.sequence), numeric: true },
    { title: "When", cell: (e) => timestamp(e.time) },
    { title: "Who", cell: (e) => `${e.subject} (${e.role})` },
    { title: "What", cell: (e) => e.method.split("/")[1] ?? e.method },
    { title: "Record", cell: (e) => e.resource },
    { title: "Hash", cell: (e) => h("code", {}, e.hash.slice(0, 16) + "…"), csv: (e) => e.hash },
  ], { name: "reconciliation-audit", empty: "No manual decision recorded.", caption: `${entries.length} manual decisions, newest first` }));
}

