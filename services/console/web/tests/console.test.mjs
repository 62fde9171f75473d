// The console in a real browser: Debian's chromium driven by playwright-core
// against a real repatd (tokens, gRPC-Web on the console port) loaded with
// the demo dataset. Screenshots of each page go to test-results/.
//
//   REPATD, REPATCTL   the binaries (default: the workspace's target/debug)
//   CHROMIUM           the browser (default: /usr/bin/chromium)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, openSync, readFileSync, writeFileSync, cpSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../../..");
const repatd = process.env.REPATD ?? join(root, "target/debug/repatd");
const repatctl = process.env.REPATCTL ?? join(root, "target/debug/repatctl");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shots = join(here, "..", "test-results");
const work = mkdtempSync(join(tmpdir(), "repat-console-"));
const secret = join(work, "jwt.secret");

let server, grpcAddr, consoleUrl, context, ids;
const tokens = {};
const cspViolations = [];

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

function token(role, subject, parties = []) {
  const args = ["--jwt-algorithm", "hs256", "--jwt-signing-key-file", secret, "token", "issue", "--role", role, "--subject", subject];
  for (const p of parties) args.push("--party", p);
  return execFileSync(repatd, args, { encoding: "utf8" }).trim();
}

function ctl(args, env = {}) {
  return execFileSync(repatctl, args, { encoding: "utf8", cwd: work, env: { ...process.env, REPATCTL_SERVER: `http://${grpcAddr}`, REPATCTL_TOKEN: tokens.admin, ...env } });
}

async function waitFor(url, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {}
    if (Date.now() > end) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  writeFileSync(secret, Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64"));
  const [grpcPort, consolePort] = [await freePort(), await freePort()];
  grpcAddr = `127.0.0.1:${grpcPort}`;
  consoleUrl = `http://127.0.0.1:${consolePort}/`;
  server = spawn(repatd, [
    "--jwt-algorithm", "hs256", "--jwt-verify-key-file", secret,
    "--listen", grpcAddr, "--console-listen", `127.0.0.1:${consolePort}`,
    "--database-url", `sqlite:${join(work, "repat.db")}`, "--rate-limit-per-second", "0",
  // Its log goes to a file: the event loop is blocked while the demo loads,
  // and a pipe nobody reads would stall the server once full.
  ], { stdio: ["ignore", "ignore", openSync(join(work, "repatd.log"), "w")] });
  server.on("exit", (code) => { if (code) console.error(`repatd exited ${code}\n${readFileSync(join(work, "repatd.log"), "utf8").slice(-4000)}`); });
  await waitFor(consoleUrl);
  tokens.admin = token("admin", "console-admin@repat");
  tokens.auditor = token("auditor", "auditor@audit-firm");

  // The demo dataset, loaded as the README says, from a copy.
  cpSync(join(root, "demo"), join(work, "demo"), { recursive: true, filter: (p) => !/\.(ids|errors)\.csv$|\.svg$|\.png$|statement\.csv$/.test(p) });
  execFileSync(join(work, "demo/run.sh"), [join(work, "demo-out")], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, REPATCTL: repatctl, REPATCTL_SERVER: `http://${grpcAddr}`, REPATCTL_TOKEN: tokens.admin } });
  ids = Object.fromEntries(readFileSync(join(work, "demo-out/parties.csv.ids.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(",")));
  // A bank statement of Rajshahi Data Ltd (firm-001): one credit paying
  // INV-2024-0003 by reference, one too short for any invoice.
  ctl(["statements", "import", join(here, "statement.csv"), "--party", ids["firm-001"], "--format", "csv"]);
  ctl(["reconcile", "run", "--party", ids["firm-001"]]);
  tokens.firm = token("firm", "accounts@rajshahi-data", [ids["firm-001"]]);

  context = await chromium.launchPersistentContext(join(work, "profile"), {
    executablePath: browserPath,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1440, height: 1000 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await context?.close();
  server?.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
  assert.deepEqual(cspViolations, [], "the content security policy was never violated");
});

/** A new tab signed in with `role`'s token. */
async function signedIn(role) {
  const page = await context.newPage();
  page.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) cspViolations.push(m.text()); });
  page.on("pageerror", (e) => cspViolations.push(`page error: ${e.message}`));
  await page.goto(consoleUrl);
  await page.fill("#token", tokens[role]);
  await page.click("button[type=submit]");
  await page.waitForSelector("main#page");
  return page;
}

const rowsOf = (page, name) => page.locator(`[data-table="${name}"] tbody tr`);

test("the console is served with a strict content security policy and no inline script", async () => {
  const r = await fetch(consoleUrl);
  const csp = r.headers.get("content-security-policy");
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  const html = await r.text();
  assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, "scripts only by src");
  const page = await context.newPage();
  await page.goto(consoleUrl);
  await page.waitForSelector("#token");
  await page.screenshot({ path: join(shots, "sign-in.png") });
  // A wrong token is refused by the server, and the console says so.
  await page.fill("#token", tokens.admin.slice(0, -4) + "AAAA");
  await page.click("button[type=submit]");
  await page.waitForSelector(".note.error");
  assert.match(await page.textContent(".note.error"), /Unauthenticated/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("repat.token")), null, "a refused token is not kept");
  await page.close();
});

test("a journey is found by its invoice reference, with its hops and waits", async () => {
  const page = await signedIn("admin");
  await page.goto(`${consoleUrl}#/journeys`);
  await page.selectOption("#search-by", "invoice");
  await page.fill("#search-text", "INV-2024-0003");
  await page.click("form.search button");
  const hit = page.locator('[data-table="journeys"] tbody tr', { hasText: "Rajshahi Data Ltd" });
  await hit.waitFor();
  assert.ok((await rowsOf(page, "journeys").count()) >= 1);
  assert.ok(!page.url().includes(tokens.admin.slice(0, 20)), "the token is never in the address");
  await hit.locator("a").first().click();
  await page.waitForSelector('[data-table="hops"] tbody tr');
  const hops = await rowsOf(page, "hops").allTextContents();
  assert.ok(hops.length >= 4, `hops: ${hops.length}`);
  assert.ok(hops.some((t) => t.includes("Payment initiated")), "the initiation hop");
  assert.ok(hops.some((t) => t.includes("Beneficiary credited")), "the credit hop");
  const waits = await page.locator('[data-table="hops"] tbody tr td:nth-child(5)').allTextContents();
  assert.ok(waits.filter((w) => /\d+(d|h|m|s)/.test(w)).length >= 3, `waits shown: ${waits}`);
  // The statement's credit paying INV-2024-0003 by reference.
  await page.waitForSelector('[data-table^="matches-"] tbody tr');
  assert.match(await rowsOf(page, "matches-INV-2024-0003").first().textContent(), /Reference/);
  assert.match(await page.textContent("main"), /Deadlines/);
  await page.screenshot({ path: join(shots, "journey.png"), fullPage: true });
  await page.close();
});

test("a firm sees only its own invoices", async () => {
  const page = await signedIn("firm");
  await page.goto(`${consoleUrl}#/home`);
  await page.waitForSelector('[data-table="invoices"] tbody tr');
  const invoices = await page.locator('[data-table="invoices"] tbody tr td:first-child').allTextContents();
  assert.deepEqual(invoices.sort(), ["INV-2024-0001", "INV-2024-0003", "INV-2025-0002"]);
  const options = await page.locator("#party-picker option").allTextContents();
  assert.deepEqual(options.filter((o) => !o.startsWith("Choose")), ["Rajshahi Data Ltd"]);
  assert.equal(await page.locator('nav a[href="#/auditor"]').count(), 0, "no auditor's view for a firm");
  await page.screenshot({ path: join(shots, "home.png"), fullPage: true });
  // Another firm's invoice: the server finds nothing for this caller.
  await page.goto(`${consoleUrl}#/journeys?by=invoice&q=INV-2024-0002`);
  await page.waitForSelector('[data-table="journeys"]');
  assert.equal(await rowsOf(page, "journeys").count(), 0);
  await page.goto(`${consoleUrl}#/journeys?by=invoice&q=INV-2024-0001`);
  await page.waitForSelector('[data-table="journeys"] tbody tr');
  assert.equal(await rowsOf(page, "journeys").count(), 1, "only its own INV-2024-0001, not other firms'");
  await page.close();
});

test("an exception is resolved by a manual match: gone from the worklist, in the audit trail", async () => {
  const page = await signedIn("admin");
  await page.goto(`${consoleUrl}#/exceptions?party=${ids["firm-001"]}`);
  const row = page.locator('[data-table="exceptions"] tbody tr', { hasText: "AMOUNT_OUTSIDE_TOLERANCE" });
  await row.waitFor();
  assert.equal(await row.count(), 1);
  await page.screenshot({ path: join(shots, "exceptions.png"), fullPage: true });
  await row.locator(".match-choice").selectOption({ label: "INV-2024-0001 (Harbour Education Pty Ltd)" });
  await row.locator(".match-note").fill("short payment agreed with the client, email of 11 March");
  await row.locator("button[type=submit]").click();
  await page.waitForSelector(".note.ok");
  assert.match(await page.textContent(".note.ok"), /Matched the credit of USD 36,000.00 on 2024-03-10 from Harbour Education Pty Ltd .* to INV-2024-0001/);
  await page.waitForSelector('[data-table="exceptions"] .empty, [data-table="exceptions"] tbody');
  assert.equal(await page.locator('[data-table="exceptions"] tbody tr', { hasText: "AMOUNT_OUTSIDE_TOLERANCE" }).count(), 0, "gone from the worklist");
  await page.waitForSelector('[data-table="manual-matches"] tbody tr');
  const audit = page.locator('[data-table="reconciliation-audit"] tbody tr', { hasText: "ManualMatch" });
  await audit.waitFor();
  assert.match(await audit.first().textContent(), /console-admin@repat/);
  await page.screenshot({ path: join(shots, "exceptions-matched.png"), fullPage: true });
  await page.close();
});

test("an auditor filters delays by corridor and month and the chart changes; tables export as CSV", async () => {
  const page = await signedIn("auditor");
  await page.goto(`${consoleUrl}#/auditor`);
  const caption = page.locator("#chart-waits .chart-caption");
  await caption.waitFor();
  const before = await caption.textContent();
  const pixelsBefore = await page.locator("#chart-waits canvas").evaluate((c) => c.toDataURL());
  assert.match(before, /Period: .* to .*\. Scope: every corridor.*Count: \d+ observations/);
  await page.screenshot({ path: join(shots, "auditor.png"), fullPage: true });
  await page.screenshot({ path: join(shots, "console.png") });

  await page.selectOption("#filter-corridor", "US");
  await page.selectOption("#filter-from", "2024-06");
  await page.selectOption("#filter-to", "2024-09");
  await page.click("#delay-filters button[type=submit]");
  await page.waitForFunction((old) => document.querySelector("#chart-waits .chart-caption")?.textContent !== old, before);
  const after = await caption.textContent();
  assert.match(after, /Period: 2024-06 to 2024-09/);
  assert.match(after, /corridor US/);
  const count = (t) => Number(/Count: (\d+)/.exec(t)[1]);
  assert.ok(count(after) > 0 && count(after) < count(before), `${count(after)} of ${count(before)}`);
  const pixelsAfter = await page.locator("#chart-waits canvas").evaluate((c) => c.toDataURL());
  assert.notEqual(pixelsAfter, pixelsBefore, "the chart was redrawn");
  await page.screenshot({ path: join(shots, "auditor-filtered.png"), fullPage: true });

  const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-export="delay-statistics"]')]);
  assert.equal(download.suggestedFilename(), "delay-statistics.csv");
  const csv = readFileSync(await download.path(), "utf8").trim().split("\r\n");
  assert.equal(csv[0], "Measure,Count,Min,Median,p90,p95,p99,Max,Mean");
  assert.equal(csv.length - 1, await rowsOf(page, "delay-statistics").count(), "every row of the table");
  assert.ok(csv.slice(1).every((l) => /^[A-Z_]+,\d+,[\d.]+,/.test(l)), csv.slice(1, 3).join("\n"));

  // Breaches name the party and the invoices, never bare ids; the audit chain verifies.
  await page.waitForSelector('[data-table^="breaches-"] tbody tr');
  const breach = await page.locator('[data-table^="breaches-"] tbody tr').first().locator("td").first().textContent();
  assert.doesNotMatch(breach, /^[0-9a-f]{8}-/);
  await page.click("#verify-audit");
  await page.waitForSelector("#audit-result .note.ok");
  assert.match(await page.textContent("#audit-result"), /Intact: \d+ entries checked/);
  await page.close();
});

test("without tokens, the console prints its address and signs in the local administrator", async () => {
  const [grpcPort, consolePort] = [await freePort(), await freePort()];
  const log = join(work, "local.log");
  const local = spawn(repatd, ["--allow-unauthenticated", "--listen", `127.0.0.1:${grpcPort}`, "--console-listen", `127.0.0.1:${consolePort}`, "--database-url", `sqlite:${join(work, "local.db")}`],
    { stdio: ["ignore", "ignore", openSync(log, "w")] });
  try {
    const url = `http://127.0.0.1:${consolePort}/`;
    await waitFor(url);
    const printed = () => readFileSync(log, "utf8").replace(/\x1b\[[0-9;]*m/g, "").includes(`url=${url}`);
    for (let i = 0; i < 50 && !printed(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(printed(), "the console's address is printed at start");
    const page = await context.newPage();
    await page.goto(url);
    await page.click("#local-admin");
    await page.waitForSelector('nav a[href="#/auditor"]');
    assert.match(await page.textContent(".who"), /local-admin · admin/);
    await page.close();
  } finally {
    local.kill("SIGTERM");
  }
});
