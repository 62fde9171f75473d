// The console: sign-in, the navigation each role is offered, and the
// pages, routed by the fragment (#/journeys, #/home, ...). Nothing secret
// is ever put in the fragment or anywhere else in a URL.
import "./style.css";
import { api, describeError } from "./api.js";
import { h, clear, note } from "./dom.js";
import { forget } from "./names.js";
import { session, sessionFromToken, localAdmin, signIn, signOut, type Session, canSeeEveryone } from "./session.js";
import { journeysPage } from "./pages/journeys.js";
import { homePage } from "./pages/home.js";
import { exceptionsPage } from "./pages/exceptions.js";
import { auditorPage } from "./pages/auditor.js";

const app = document.getElementById("app")!;

interface Page {
  path: string;
  title: string;
  allowed: (s: Session) => boolean;
  render: (params: URLSearchParams, rest: string[]) => HTMLElement;
}

const PAGES: Page[] = [
  { path: "home", title: "Firm's home", allowed: () => true, render: homePage },
  { path: "journeys", title: "Journey tracker", allowed: () => true, render: journeysPage },
  { path: "exceptions", title: "Exceptions", allowed: () => true, render: exceptionsPage },
  { path: "auditor", title: "Auditor's view", allowed: canSeeEveryone, render: auditorPage },
];

function defaultPage(s: Session): string {
  return canSeeEveryone(s) ? "auditor" : "home";
}

function route(): void {
  const s = session();
  if (!s) {
    renderSignIn();
    return;
  }
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/");
  const page = PAGES.find((p) => p.path === name && p.allowed(s));
  if (!page) {
    location.replace(`#/${defaultPage(s)}`);
    return;
  }
  document.title = `${page.title} · repat console`;
  const nav = h(
    "nav",
    { "aria-label": "pages" },
    PAGES.filter((p) => p.allowed(s)).map((p) => h("a", { href: `#/${p.path}`, class: p === page ? "active" : undefined, "aria-current": p === page ? "page" : undefined }, p.title)),
  );
  const who = h("span", { class: "who" }, `${s.subject} · ${s.role}`);
  const out = h("button", { type: "button", class: "secondary", onclick: () => { signOut(); forget(); location.hash = ""; route(); } }, "Sign out");
  clear(
    app,
    h("header", { class: "top" }, h("a", { class: "brand", href: `#/${defaultPage(s)}` }, "repat"), nav, h("div", { class: "session" }, who, out)),
    h("main", { id: "page", "data-page": page.path }, page.render(new URLSearchParams(query), rest)),
  );
}

function renderSignIn(): void {
  document.title = "Sign in · repat console";
  const status = h("div", { "aria-live": "polite" });
  const token = h("textarea", { id: "token", rows: "4", autocomplete: "off", spellcheck: "false", placeholder: "eyJhbGciOi…" });
  const tryIn = async (s: Session) => {
    clear(status, note("Checking with the server…"));
    signIn(s);
    try {
      // A call every role may make, to prove the token (or the local
      // administrator) is accepted before showing anything.
      await api.incentives.listRuleSets({});
      forget();
      if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = `#/${defaultPage(s)}`;
      route();
    } catch (e) {
      signOut();
      clear(status, note(describeError(e), "error"));
    }
  };
  const form = h(
    "form",
    { class: "signin" },
    h("label", { for: "token" }, "Bearer token"),
    token,
    h("p", { class: "hint" }, "Kept in this tab only (session storage), sent in the authorization header, never in a URL. Ask your administrator for one (repatd token issue)."),
    h("button", { type: "submit" }, "Sign in with the token"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    try {
      void tryIn(sessionFromToken(token.value));
    } catch (err) {
      clear(status, note(describeError(err), "error"));
    }
  });
  const local = h("button", { type: "button", class: "secondary", id: "local-admin", onclick: () => void tryIn(localAdmin()) }, "Continue as the local administrator");
  clear(
    app,
    h(
      "main",
      { class: "signin-page" },
      h("h1", {}, "repat console"),
      h("p", {}, "Foreign earnings followed home, step by step: journeys, delays, deadlines, exceptions and incentives."),
      form,
      h("div", { class: "or" }, h("p", {}, "A server started with --allow-unauthenticated (on loopback) takes every caller as its administrator:"), local),
      status,
    ),
  );
}

window.addEventListener("hashchange", route);
route();
