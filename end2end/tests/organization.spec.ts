import { Page, Browser } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { test, expect, PASSWORD, uniqueEmail, waitForHydration, confirmationLink } from "./helpers";

/// Seeds one organization with the CLI, as a person following the README would, against
/// the database of the server under test; returns its owner's email.
function seedOrganization(callsPerOrg: number): { email: string; password: string } {
  const out = execFileSync("../target/debug/switchboard", ["seed", "--orgs", "1", "--calls-per-org", String(callsPerOrg)], {
    env: process.env,
    encoding: "utf8",
  });
  const email = /Sign in as (\S+)/.exec(out)?.[1];
  const password = /password: (\S+)/.exec(out)?.[1];
  if (!email || !password) throw new Error(`unexpected seed output: ${out}`);
  return { email, password };
}

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/auth/signin");
  await waitForHydration(page);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
}

async function signUp(browser: Browser, organization: string): Promise<{ page: Page; email: string }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const email = uniqueEmail("agents");
  await page.goto("/auth/signup");
  await page.getByLabel("Organization name").fill(organization);
  await page.getByLabel("Work email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/notice=check-email/);
  await page.goto(await confirmationLink(context, email));
  await page.getByRole("button", { name: "Confirm email address" }).click();
  await expect(page).toHaveURL(/notice=confirmed/);
  await signIn(page, email, PASSWORD);
  return { page, email };
}

test("a member creates, edits, pauses and deletes an agent; another organization never sees it", async ({ browser }) => {
  const { page } = await signUp(browser, "Agents Co");
  const other = seedOrganization(5);
  const otherPage = await (await browser.newContext()).newPage();
  await signIn(otherPage, other.email, other.password);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Agents" }).click();
  await expect(page).toHaveURL(/\/agents$/);
  await expect(page.getByText("No agents yet.")).toBeVisible();
  await page.getByRole("link", { name: "New agent" }).click();
  await page.getByLabel("Name").fill("Front Desk");
  await page.getByLabel("Greeting").fill("Hello, Agents Co!");
  await page.getByLabel("Instructions").fill("Book appointments.");
  await page.getByLabel("Voice").selectOption("nova");
  await page.getByLabel("Language").selectOption("en-GB");
  await page.getByLabel("Phone number").fill("+44 20 7946 0958");
  await page.getByRole("button", { name: "Create agent" }).click();
  await expect(page.getByRole("status")).toContainText("The agent was created.");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Front Desk");
  const agentUrl = page.url();

  // A bad phone number is refused next to the form; the rest of the input stays.
  await page.getByLabel("Phone number").fill("call me");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("alert")).toContainText("international format");

  await page.getByLabel("Name").fill("Front Desk UK");
  await page.getByLabel("Phone number").fill("+442079460958");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Front Desk UK");
  await expect(page.getByRole("status")).toContainText("saved");

  await page.getByRole("button", { name: "Pause agent" }).click();
  await expect(page.getByTestId("agent-status")).toHaveText("paused");
  await expect(page.getByRole("button", { name: "Resume agent" })).toBeVisible();

  // The other organization sees neither the agent in its list nor at its address.
  await otherPage.goto("/agents");
  await expect(otherPage.getByTestId("agent-row")).not.toHaveCount(0);
  await expect(otherPage.getByText("Front Desk UK")).toHaveCount(0);
  const response = await otherPage.goto(agentUrl);
  expect(response?.status()).toBe(404);
  await expect(otherPage.getByRole("heading", { name: "Not found" })).toBeVisible();

  await page.getByText("Delete this agent").click();
  await page.getByLabel("I understand this cannot be undone").check();
  await page.getByRole("button", { name: "Delete agent" }).click();
  await expect(page).toHaveURL(/\/agents\?notice=deleted/);
  await expect(page.getByRole("status")).toContainText("The agent was deleted.");
  await expect(page.getByText("No agents yet.")).toBeVisible();
});

test("the calls list pages with keyset cursors and filters; a call shows its transcript", async ({ page }) => {
  const owner = seedOrganization(60);
  await signIn(page, owner.email, owner.password);
  await expect(page.getByTestId("calls-chart")).toBeVisible();

  await page.goto("/calls");
  const rows = page.getByTestId("call-row");
  await expect(rows).toHaveCount(25);
  const firstOnPageOne = await rows.first().textContent();
  await page.getByRole("link", { name: "Next page" }).click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(rows).toHaveCount(25);
  expect(await rows.first().textContent()).not.toBe(firstOnPageOne);
  await page.getByRole("link", { name: "Next page" }).click();
  await expect(rows).toHaveCount(10);
  await expect(page.getByRole("link", { name: "Next page" })).toHaveCount(0);

  await page.goto("/calls");
  await waitForHydration(page);
  await page.getByLabel("Status").selectOption("missed");
  await page.getByLabel("Direction").selectOption("inbound");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(/status=missed/);
  await expect(rows.first()).toBeVisible();
  for (const text of await rows.allTextContents()) {
    expect(text).toContain("missed");
    expect(text).toContain("inbound");
  }

  await page.goto("/calls?status=completed");
  await rows.first().getByRole("link").click();
  await expect(page).toHaveURL(/\/calls\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId("transcript").getByRole("listitem")).toHaveCount(4);
  await expect(page.getByTestId("transcript")).toContainText("Thanks for calling");
});

test("after signing in, the dashboard's data is requested while its page module is still downloading", async ({ page }) => {
  const owner = seedOrganization(5);
  let moduleReleased = 0;
  let dataRequested = 0;
  // Hold the dashboard's own WASM module back for a second, as a slow network would.
  await page.route(/split___dashboard_route_view[^/]*\.wasm$/, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    moduleReleased = Date.now();
    await route.continue();
  });
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/api/org/dashboard" && dataRequested === 0) {
      dataRequested = Date.now();
    }
  });

  await signIn(page, owner.email, owner.password);
  await expect(page.getByTestId("organization-name")).toBeVisible();
  await expect(page.getByTestId("calls-chart")).toBeVisible();

  // The page's code came lazily, and its data did not wait for it.
  expect(moduleReleased).toBeGreaterThan(0);
  expect(dataRequested).toBeGreaterThan(0);
  expect(dataRequested).toBeLessThan(moduleReleased);
});

test("a page loaded whole hydrates from the data it carries, quotes and all, without asking for it again", async ({ browser }) => {
  // Resources travel in the page as JSON with `"` and `'` swapped (app/src/resource.rs): a
  // name with both must come back as it was, and a value that failed to decode would be
  // fetched again.
  const name = `O'Brien "Plumbing" & Sons`;
  const { page } = await signUp(browser, name);
  const requested: string[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith("/api/")) requested.push(path);
  });

  await page.goto("/dashboard");
  await waitForHydration(page);
  await expect(page.getByTestId("organization-name")).toHaveText(name);
  expect(requested).toEqual([]);

  // Hydrated: the navigation's links now move between pages in the browser.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Calls" }).click();
  await expect(page).toHaveURL(/\/calls$/);
  expect(requested).toContain("/api/org/calls");
});
