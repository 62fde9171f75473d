// Who is signed in. The token lives in sessionStorage (gone when the tab
// closes) and in memory; never in a URL, a cookie or localStorage.

export type Role = "firm" | "integrator" | "auditor" | "admin";

export interface Session {
  /** Empty for the local administrator of an unauthenticated server. */
  token: string;
  subject: string;
  role: Role;
  parties: string[];
}

const KEY = "repat.token";
const LOCAL = "local-admin";
let current: Session | null = null;

/** What a token says of its bearer. The server verifies it on every call;
 * this only decides what the console offers. */
export function sessionFromToken(token: string): Session {
  const parts = token.trim().split(".");
  if (parts.length !== 3) throw new Error("a token has three parts separated by dots");
  let claims: { sub?: unknown; role?: unknown; parties?: unknown; exp?: unknown };
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "=")), (c) => c.charCodeAt(0)));
    claims = JSON.parse(json);
  } catch {
    throw new Error("the token's claims cannot be read");
  }
  const role = claims.role;
  if (role !== "firm" && role !== "integrator" && role !== "auditor" && role !== "admin") throw new Error(`unknown role ${String(role)}`);
  if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) throw new Error("the token has expired");
  const parties = Array.isArray(claims.parties) ? claims.parties.filter((p): p is string => typeof p === "string") : [];
  return { token: token.trim(), subject: String(claims.sub ?? ""), role, parties };
}

export function localAdmin(): Session {
  return { token: "", subject: LOCAL, role: "admin", parties: [] };
}

export function signIn(s: Session): void {
  current = s;
  sessionStorage.setItem(KEY, s.token === "" ? LOCAL : s.token);
}

export function signOut(): void {
  current = null;
  sessionStorage.removeItem(KEY);
}

/** The session, restored from sessionStorage after a reload. */
export function session(): Session | null {
  if (current) return current;
  const stored = sessionStorage.getItem(KEY);
  if (!stored) return null;
  try {
    current = stored === LOCAL ? localAdmin() : sessionFromToken(stored);
  } catch {
    sessionStorage.removeItem(KEY);
  }
  return current;
}

export const canSeeEveryone = (s: Session) => s.role === "auditor" || s.role === "admin";
export const canWrite = (s: Session) => s.role !== "auditor";
