import { test, expect, PASSWORD, uniqueEmail, waitForHydration, confirmationLink } from "./helpers";

for (const javaScriptEnabled of [true, false]) {
  const mode = javaScriptEnabled ? "with JavaScript" : "without JavaScript";

  test(`sign up, confirm via the mailbox, sign in, dashboard, sign out (${mode})`, async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const email = uniqueEmail(javaScriptEnabled ? "js" : "nojs");
    const organization = javaScriptEnabled ? "Acme Voice" : "Plain Forms Ltd";

    let loads = 0;
    page.on("load", () => (loads += 1));

    await page.goto("/auth/signup");
    if (javaScriptEnabled) await waitForHydration(page);
    const loadsBefore = loads;

    // A weak password is refused next to the form, and nothing typed elsewhere is lost.
    await page.getByLabel("Your name").fill("Grace Hopper");
    await page.getByLabel("Organization name").fill(organization);
    await page.getByLabel("Work email").fill(email);
    await page.getByLabel("Password").fill("1qaz2wsx3edc");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByRole("alert")).toContainText("too common");

    if (!javaScriptEnabled) {
      // The no-JS round trip re-renders the form: fill it again.
      await page.getByLabel("Your name").fill("Grace Hopper");
      await page.getByLabel("Organization name").fill(organization);
      await page.getByLabel("Work email").fill(email);
    } else {
      await expect(page.getByLabel("Work email")).toHaveValue(email);
      expect(loads).toBe(loadsBefore); // no page reload
    }
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page).toHaveURL(/\/auth\/signin\?notice=check-email/);
    await expect(page.getByRole("status")).toContainText("Check your email");

    // Signing in before confirming is refused with a way to resend.
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").first()).toContainText("Confirm your email address");
    await expect(page.getByRole("button", { name: "Send the link again" })).toBeVisible();

    const link = await confirmationLink(context, email);
    await page.goto(link);
    await page.getByRole("button", { name: "Confirm email address" }).click();
    await expect(page).toHaveURL(/notice=confirmed/);
    await expect(page.getByRole("status")).toContainText("Your email address is confirmed");

    if (javaScriptEnabled) await waitForHydration(page);
    const loadsBeforeSignIn = loads;
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/dashboard$/);
    await expect(page.getByTestId("organization-name")).toHaveText(organization);
    await expect(page.getByTestId("user-email")).toHaveText(email);
    await expect(page.getByTestId("header-email")).toHaveText(email);
    if (javaScriptEnabled) expect(loads).toBe(loadsBeforeSignIn);

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/auth\/signin\?notice=signed-out/);
    await expect(page.getByTestId("header-email")).toHaveCount(0);
    if (javaScriptEnabled) {
      // Client-side navigation back to the protected page is guarded too.
      const loadsBeforeBack = loads;
      await page.goBack();
      await expect(page).toHaveURL(/\/auth\/signin\?next=/);
      expect(loads).toBe(loadsBeforeBack);
    }
    await page.goto("/dashboard");
    await expect(page).toHaveURL(/\/auth\/signin\?next=/);

    expect(errors).toEqual([]);
    await context.close();
  });
}

test("a guarded URL opened cold goes to sign in and back to it after signing in", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const email = uniqueEmail("cold");
  // Make the account through the forms, as a person would.
  await page.goto("/auth/signup");
  await page.getByLabel("Organization name").fill("Cold Start Inc");
  await page.getByLabel("Work email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/notice=check-email/);
  await page.goto(await confirmationLink(context, email));
  await page.getByRole("button", { name: "Confirm email address" }).click();
  await expect(page).toHaveURL(/notice=confirmed/);

  const response = await page.goto("/settings/sessions");
  expect(response?.url()).toMatch(/\/auth\/signin\?next=(%2F|\/)settings(%2F|\/)sessions$/);
  await waitForHydration(page);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/settings\/sessions$/);
  await expect(page.getByRole("heading", { name: "Active sessions" })).toBeVisible();
  await expect(page.getByTestId("session-row")).toHaveCount(1);
  await expect(page.getByTestId("session-row")).toContainText("This browser");
  await context.close();
});

test("a session ended from another browser sends this one to sign in at its next navigation", async ({ browser }) => {
  const email = uniqueEmail("revoked");
  const first = await browser.newContext();
  const page = await first.newPage();
  await page.goto("/auth/signup");
  await page.getByLabel("Organization name").fill("Revoked Sessions Co");
  await page.getByLabel("Work email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/notice=check-email/);
  await page.goto(await confirmationLink(first, email));
  await page.getByRole("button", { name: "Confirm email address" }).click();
  await expect(page).toHaveURL(/notice=confirmed/);
  await waitForHydration(page);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  let loads = 0;
  page.on("load", () => (loads += 1));

  // The same person, in another browser, signs every other session out.
  const second = await browser.newContext();
  const other = await second.newPage();
  await other.goto("/auth/signin");
  await waitForHydration(other);
  await other.getByLabel("Email", { exact: true }).fill(email);
  await other.getByLabel("Password").fill(PASSWORD);
  await other.getByRole("button", { name: "Sign in" }).click();
  await expect(other).toHaveURL(/\/dashboard$/);
  await other.goto("/settings/sessions");
  await expect(other.getByTestId("session-row")).toHaveCount(2);
  await other.getByRole("button", { name: "Sign out all other sessions" }).click();
  await expect(other.getByTestId("session-row")).toHaveCount(1);

  // The first browser still shows its header, but the next page's data is refused and it
  // is sent to sign in, without a reload, with the way back kept.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Agents" }).click();
  await expect(page).toHaveURL(/\/auth\/signin\?next=(%2F|\/)agents$/);
  expect(loads).toBe(0);
  await first.close();
  await second.close();
});

test("the sign-in page loads no WASM until the visitor touches it, then works without a page load", async ({ page }) => {
  const wasm: string[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.endsWith(".wasm")) wasm.push(request.url());
  });
  let loads = 0;
  page.on("load", () => (loads += 1));

  await page.goto("/auth/signin");
  await page.waitForLoadState("networkidle");
  expect(wasm).toEqual([]);

  // Typing is the first interaction: the bundle loads meanwhile, and what was typed stays.
  const email = uniqueEmail("lazy");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await expect.poll(() => wasm.length).toBeGreaterThan(0);
  await waitForHydration(page);
  await expect(page.getByLabel("Email", { exact: true })).toHaveValue(email);

  // Hydrated: a refused sign-in is answered next to the form, without a page load.
  const loadsBefore = loads;
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("Incorrect email or password");
  await expect(page.getByLabel("Email", { exact: true })).toHaveValue(email);
  expect(loads).toBe(loadsBefore);
});
