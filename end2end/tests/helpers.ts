import { test as base, expect, Page, BrowserContext } from "@playwright/test";

export { expect };

/// Collects Content-Security-Policy violations a page reports in its console.
export function watchCsp(page: Page): string[] {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to (execute|load|apply|connect|frame)/i.test(message.text())) {
      violations.push(message.text());
    }
  });
  return violations;
}

/// Every spec runs with the CSP on and fails on any violation in the console: the default
/// page, and every page opened in another context (`context.newPage()`).
export const test = base.extend<{ cspGuard: void }>({
  cspGuard: [
    async ({ page, browser }, use) => {
      const violations = watchCsp(page);
      const originalNewContext = browser.newContext.bind(browser);
      browser.newContext = async (options) => {
        const context = await originalNewContext(options);
        context.on("console", (message) => {
          if (/Content Security Policy|Refused to (execute|load|apply|connect|frame)/i.test(message.text())) {
            violations.push(message.text());
          }
        });
        return context;
      };
      await use();
      browser.newContext = originalNewContext;
      expect(violations, "CSP violations").toEqual([]);
    },
    { auto: true },
  ],
});

export const PASSWORD = "correct horse battery staple";

/// A unique address per test run, so runs never collide on one database.
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/// Waits until the WASM bundle has loaded and hydrated the page. The sign-in and other
/// /auth pages load it at the visitor's first interaction, so the mouse moves over the
/// page first, as a person's would.
export async function waitForHydration(page: Page): Promise<void> {
  await page.mouse.move(10, 10);
  await page.mouse.move(40, 40);
  await page.waitForFunction(() =>
    performance.getEntriesByType("resource").some((entry) => entry.name.endsWith(".wasm")),
  );
  await page.waitForLoadState("networkidle");
}

/// The confirmation link mailed to `email`, read from /dev/mailbox like a person would.
export async function confirmationLink(context: BrowserContext, email: string): Promise<string> {
  const mailbox = await context.newPage();
  await mailbox.goto("/dev/mailbox");
  const mail = mailbox.getByTestId("mail").filter({ hasText: email }).filter({ hasText: "Confirm your email address" }).first();
  await expect(mail).toBeVisible();
  const href = await mail.getByRole("link").first().getAttribute("href");
  await mailbox.close();
  if (!href) throw new Error("no confirmation link in the mail");
  return href;
}
