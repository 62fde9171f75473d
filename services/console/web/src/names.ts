// Names and references for ids: the console never shows a bare UUID where
// a party's name or an invoice reference can stand for it. Looked up with
// the ordinary Get/List calls and kept for the session's page.
import { api, all } from "./api.js";
import type { Earning } from "./gen/repat/v1/earning_pb.js";
import type { Party } from "./gen/repat/v1/party_pb.js";
import type { Repatriation } from "./gen/repat/v1/repatriation_pb.js";
import { session, canSeeEveryone } from "./session.js";

const parties = new Map<string, Promise<Party | null>>();
const earnings = new Map<string, Promise<Earning | null>>();
const repatriations = new Map<string, Promise<Repatriation | null>>();
let everyone: Promise<Party[]> | null = null;

/** The parties the caller may see, by name. */
export function listParties(): Promise<Party[]> {
  if (!everyone) {
    const s = session();
    everyone = (async () => {
      if (s && !canSeeEveryone(s)) {
        const own = await Promise.all(s.parties.map((id) => party(id)));
        return own.filter((p): p is Party => p !== null);
      }
      const list = await all(async (pageToken) => {
        const r = await api.parties.listParties({ pageSize: 1000, pageToken });
        return { items: r.parties, next: r.nextPageToken };
      });
      for (const p of list) parties.set(p.id, Promise.resolve(p));
      return list.sort((a, b) => a.legalName.localeCompare(b.legalName));
    })();
    everyone.catch(() => (everyone = null));
  }
  return everyone;
}

export function party(id: string): Promise<Party | null> {
  return cached(parties, id, () => api.parties.getParty({ id }));
}

export function earning(id: string): Promise<Earning | null> {
  return cached(earnings, id, () => api.earnings.getEarning({ id }));
}

export function repatriation(id: string): Promise<Repatriation | null> {
  return cached(repatriations, id, () => api.repatriations.getRepatriation({ id }));
}

export function remember(list: Earning[]): void {
  for (const e of list) earnings.set(e.id, Promise.resolve(e));
}

export async function partyName(id: string): Promise<string> {
  if (id === "") return "";
  return (await party(id))?.legalName ?? `party ${id.slice(0, 8)}`;
}

/** "INV-1, INV-2": the invoices a repatriation pays. */
export async function invoiceReferences(r: Repatriation): Promise<string> {
  const refs = await Promise.all(r.allocations.map(async (a) => (await earning(a.earningId))?.invoiceReference ?? a.earningId.slice(0, 8)));
  return refs.join(", ");
}

/** Runs `f` over `items`, a few at a time (the browser's connections are few). */
export async function mapLimited<T, R>(items: T[], f: (t: T) => Promise<R>, limit = 6): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function cached<T>(map: Map<string, Promise<T | null>>, id: string, get: () => Promise<T>): Promise<T | null> {
  let p = map.get(id);
  if (!p) {
    p = get().catch(() => null);
    map.set(id, p);
  }
  return p;
}

/** Forgets everything (after signing out, or a change made here). */
export function forget(): void {
  parties.clear();
  earnings.clear();
  repatriations.clear();
  everyone = null;
}
