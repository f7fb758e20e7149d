import { test, expect, waitForHydration } from "./helpers";

test("the landing page is rendered by the server and says what the product is", async ({ browser }) => {
  // JavaScript off: what a crawler or a no-JS user gets is the server's HTML alone.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("AI phone agents that answer every call");
  await expect(page.getByRole("link", { name: "Create your organization" })).toHaveAttribute("href", "/auth/signup");
  await expect(page.getByRole("link", { name: "Sign in" }).first()).toHaveAttribute("href", "/auth/signin");
  await context.close();
});

test("the page hydrates: the estimator reacts in the browser without a reload", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });

  let navigations = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });

  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByTestId("hours-saved")).toHaveText("66");

  const slider = page.getByLabel("Calls a month");
  // A change before hydration finishes would be lost: retry until the app reacts.
  await expect(async () => {
    await slider.fill("6000");
    await expect(page.getByTestId("hours-saved")).toHaveText("400", { timeout: 1_000 });
  }).toPass();
  await expect(page.getByTestId("calls-value")).toHaveText("6000");

  expect(navigations).toBe(1);
  expect(errors).toEqual([]);
});

test("an unknown address shows the app's 404 page with a way back", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await page.getByRole("link", { name: "Back to the home page" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("AI phone agents that answer every call");
});
