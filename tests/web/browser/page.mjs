// The self-service page in Debian's Chromium, driven by playwright-core: run by
// tests/web/browser.rs against a real daemon behind real nginx (the shipped snippet).
//
// Environment: BASE_URL (the page, e.g. http://127.0.0.1:PORT/tokens/), ADMIN_USER and
// ADMIN_PASSWORD (an admin), USER_NAME and USER_PASSWORD (a regular user), SHOTS (a
// directory for the screenshots of the five tabs), SECRETS_FILE (where the tokens shown
// are written, for the test to look for them in the logs). Every check throws on failure, so the
// process exits non-zero; the last line printed is "browser: every check passed".
import { chromium } from "playwright-core";
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const BASE = env("BASE_URL");
const ADMIN = { user: env("ADMIN_USER"), password: env("ADMIN_PASSWORD") };
const USER = { user: env("USER_NAME"), password: env("USER_PASSWORD") };
const SHOTS = env("SHOTS");
const SECRETS = env("SECRETS_FILE");
const ORIGIN = new URL(BASE).origin;

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

const scriptErrors = [];
const tab = (name, extra = "") => `${BASE}?tab=${name}${extra}`;

async function newPage(browser, width) {
  const context = await browser.newContext({
    viewport: { width, height: 800 },
    permissions: ["clipboard-read", "clipboard-write"],
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: ORIGIN });
  const page = await context.newPage();
  page.on("pageerror", (e) => scriptErrors.push(e.message));
  return page;
}

async function signIn(page, who, password = who.password) {
  await page.goto(BASE);
  check(await page.getByLabel("User name").isVisible(), "the login form has labelled fields");
  await page.getByLabel("User name").fill(who.user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForLoadState();
}

async function signedIn(page, who) {
  await signIn(page, who);
  const header = await page.locator("header").innerText();
  check(header.includes(`Signed in as ${who.user}`), `signed in as ${who.user}`);
}

/// Creates a token on the open tab and returns its secret, checking the shown-once box.
async function create(page, name, validity) {
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Valid for").selectOption({ label: validity });
  await page.getByRole("button", { name: "Create token" }).click();
  await page.waitForLoadState();
  const box = page.locator("section.created");
  check(await box.isVisible(), `the new token ${name} is shown`);
  const secret = (await page.locator("#new-token").innerText()).trim();
  check(/^atk_[A-Za-z0-9_]{20,}$/.test(secret), "the shown token looks like a token");
  // For the test's log check; never printed.
  appendFileSync(SECRETS, `${secret}\n`);
  check((await box.innerText()).includes(`name “${name}”`), "the box names the token");
  return secret;
}

async function copyChecks(page, secret) {
  const button = page.getByRole("button", { name: "Copy" });
  check(await button.isVisible(), "the copy button is shown when scripts run");
  await button.click();
  await page.getByRole("button", { name: "Copied" }).waitFor({ timeout: 10000 });
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check(copied === secret, "the clipboard holds the token, exactly");
}

/// The page's HTML once it stopped navigating (an error page counts).
async function settledContent(page) {
  for (let i = 0; i < 50; i++) {
    try {
      return await page.content();
    } catch (e) {
      await page.waitForTimeout(200);
    }
  }
  return page.content();
}

async function shownOnce(page, secret, name) {
  await page.goto(tab("mine"));
  const html = await page.content();
  check(!html.includes(secret), "the secret is gone from the page once left");
  check(html.includes(name), "the token is listed by name");
  await page.reload();
  check(!(await page.content()).includes(secret), "reloading the list does not show it");
  try {
    await page.goBack();
  } catch (e) {
    // The creation's answer is no-store: going back to it may be refused, showing nothing.
  }
  await page.waitForLoadState("load");
  check(!(await settledContent(page)).includes(secret), "going back does not show the secret");
  await page.goto(tab("mine"));
  check(
    (await page.locator("tbody tr", { hasText: name }).count()) === 1,
    "going back made no second token",
  );
}

async function revoke(page, name) {
  await page.goto(tab("mine"));
  const row = page.locator("tbody tr", { hasText: name });
  const id = (await row.locator("code").innerText()).trim();
  await row.getByRole("link", { name: "Revoke…" }).click();
  await page.waitForLoadState();
  const confirm = page.locator("section.confirm");
  check(await confirm.isVisible(), "revoking asks for a confirmation");
  const details = await confirm.innerText();
  check(details.includes(id) && details.includes(name), "the confirmation shows the token");
  check(
    (await page.locator("tbody tr", { hasText: name }).count()) === 1,
    "nothing is revoked before the confirmation",
  );
  await confirm.getByRole("button", { name: `Revoke ${id}` }).click();
  await page.waitForLoadState();
  check(
    (await page.getByRole("status").innerText()).includes("The token was revoked."),
    "the page says the token was revoked",
  );
  check(
    (await page.locator("tbody tr", { hasText: name }).count()) === 0,
    "the revoked token is no longer listed",
  );
}

async function setSetting(page, key, value) {
  await page.goto(tab("settings"));
  const field = page.locator(`#set-${key}`);
  const tag = await field.evaluate((n) => n.tagName);
  if (tag === "SELECT") await field.selectOption(value);
  else await field.fill(value);
  await page.locator("tr", { has: field }).getByRole("button", { name: "Save" }).click();
  await page.waitForLoadState();
  check(
    (await page.getByRole("status").innerText()).includes("The setting was saved."),
    `the admin saved ${key}`,
  );
  check((await page.locator(`#set-${key}`).inputValue()) === value, `${key} shows ${value}`);
}

async function shoot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/// Every tab fits 360 px: nothing scrolls sideways but the tables' own boxes.
async function narrow(browser) {
  const page = await newPage(browser, 360);
  await signedIn(page, ADMIN);
  for (const name of ["mine", "manager", "settings", "audit", "failures"]) {
    await page.goto(tab(name));
    const current = await page.locator("[aria-current=page]").innerText();
    check(current.length > 0, `the ${name} tab opens at 360 px`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 360, `the ${name} tab fits 360 px (scrollWidth ${width})`);
  }
  await page.goto(tab("mine"));
  await shoot(page, "narrow");
  await page.context().close();
}

async function regularUser(browser, stale) {
  const page = await newPage(browser, 1024);
  await signedIn(page, USER);
  check((await page.getByRole("link", { name: "Token manager" }).count()) === 0, "no manager tab");
  const note = page.getByRole("note");
  check(
    (await note.innerText()).includes("Only administrators can create tokens"),
    "the admin-only-create info box is shown",
  );
  check((await page.getByLabel("Name", { exact: true }).count()) === 0, "no create form");
  await page.goto(tab("settings"));
  check(
    (await page.getByRole("note").innerText()).includes("Only administrators change"),
    "regular users are told settings are read-only",
  );
  check(
    (await page.locator("input[name=value], select[name=value]").count()) === 0,
    "regular users get no settings fields",
  );
  check((await page.locator("#set-admin-only-create").innerText()) === "on", "values are shown");
  // The page opened before admin-only-create went on still has the form: it is refused.
  await stale.getByLabel("Name", { exact: true }).fill("late");
  const [resp] = await Promise.all([
    stale.waitForResponse((r) => r.request().method() === "POST"),
    stale.getByRole("button", { name: "Create token" }).click(),
  ]);
  check(resp.status() === 403, `a create from a page still open answers 403 (${resp.status()})`);
  await stale.waitForLoadState();
  check(
    (await stale.getByRole("alert").innerText()).includes("admin"),
    "the refusal is explained on the page",
  );
  await page.context().close();
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  try {
    // A wrong password first, so that the failed-logins tab has a row.
    const failed = await newPage(browser, 1024);
    await signIn(failed, USER, "not the password");
    check((await failed.getByRole("alert").count()) === 1, "a wrong password is refused");
    await failed.context().close();

    // The regular user's page, opened while anyone may still create.
    const stale = await newPage(browser, 1024);
    await signedIn(stale, USER);
    check(await stale.getByLabel("Name", { exact: true }).isVisible(), "users may create");

    const admin = await newPage(browser, 1024);
    await signedIn(admin, ADMIN);
    const secret = await create(admin, "laptop", "1 year");
    await copyChecks(admin, secret);
    await shownOnce(admin, secret, "laptop");
    await revoke(admin, "laptop");
    await admin.goto(tab("mine"));
    await create(admin, "ci-runner", "6 months");
    await admin.goto(tab("mine"));
    await shoot(admin, "mine");
    await admin.goto(tab("manager"));
    check((await admin.locator("tbody tr", { hasText: "ci-runner" }).count()) >= 1, "manager lists");
    await shoot(admin, "manager");
    await setSetting(admin, "admin-only-create", "on");
    await shoot(admin, "settings");
    await admin.goto(tab("audit"));
    check((await admin.locator("tbody").innerText()).includes("via=web"), "audit shows via=web");
    await shoot(admin, "audit");
    await admin.goto(tab("failures"));
    check(
      (await admin.locator("tbody").innerText()).includes(USER.user),
      "the failed login is counted",
    );
    await shoot(admin, "failures");

    await regularUser(browser, stale);
    await narrow(browser);
  } finally {
    await browser.close();
  }
  check(scriptErrors.length === 0, `no script error on any page (${scriptErrors.join("; ")})`);
  console.log("browser: every check passed");
}

await main();
