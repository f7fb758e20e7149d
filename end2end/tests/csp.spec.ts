// Uses Playwright's plain `test` (without the CSP guard of ./helpers) on purpose: it
// provokes a violation to prove that the policy is enforced and that the guard's detector
// sees violations.
import { test, expect } from "@playwright/test";
import { watchCsp, waitForHydration } from "./helpers";

test("the CSP blocks an injected inline script, and the violation is reported", async ({ page }) => {
  const violations = watchCsp(page);
  await page.goto("/");
  await waitForHydration(page);
  const ran = await page.evaluate(() => {
    const script = document.createElement("script");
    script.textContent = "window.__injected = true;";
    document.body.appendChild(script);
    return (window as unknown as { __injected?: boolean }).__injected === true;
  });
  expect(ran).toBe(false);
  await expect.poll(() => violations.length).toBeGreaterThan(0);
  // The app itself still works: hydration ran under the same policy.
  await page.getByLabel("Calls a month").fill("3000");
  await expect(page.getByTestId("hours-saved")).toHaveText("200");
});
