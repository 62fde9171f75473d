// A few DOM helpers. Text always goes in as text (textContent), never as
// HTML, so nothing the server returns can become markup or script.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | boolean | ((e: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
}

export function clear(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A link within the console. */
export function link(href: string, text: string, attrs: Attrs = {}): HTMLAnchorElement {
  return h("a", { href, ...attrs }, text);
}

export function badge(text: string, kind: "ok" | "warn" | "bad" | "info" = "info"): HTMLSpanElement {
  return h("span", { class: `badge ${kind}` }, text);
}

export function note(text: string, kind: "error" | "info" | "ok" = "info"): HTMLParagraphElement {
  return h("p", { class: `note ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function section(title: string, ...children: (Child | Child[])[]): HTMLElement {
  return h("section", { class: "panel" }, h("h2", {}, title), ...children);
}

/** A placeholder that shows "Loading…" until `fill` has put content in. */
export function loading(fill: (el: HTMLElement) => Promise<void>, onError: (e: unknown) => string): HTMLElement {
  const el = h("div", { class: "loading" }, "Loading…");
  fill(el)
    .then(() => el.classList.remove("loading"))
    .catch((e) => {
      el.classList.remove("loading");
      clear(el, note(onError(e), "error"));
    });
  return el;
}
