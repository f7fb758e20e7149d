// What a first visit to a page downloads, as the machine's Chromium fetches it: prints one
// line per same-origin resource, "<phase> <path>", then exits 0 once the page has hydrated
// without a console error. Phase `load` is what the page fetched before the visitor did
// anything; `hydrate` what it fetched once the mouse moved over it (the /auth pages load
// their WASM only then; the others have fetched it already). Exits 1 on any console error
// or page error (a release bundle that fails to hydrate must fail the benchmark, not be
// measured).
// Usage: node bench/first-visit.cjs http://127.0.0.1:3300/auth/signin
const { chromium } = require("../end2end/node_modules/playwright-core");
const launchOptions = require("../end2end/chromium.js");

(async () => {
  const url = new URL(process.argv[2]);
  const browser = await chromium.launch(launchOptions);
  const page = await browser.newPage();
  const errors = [];
  const fetched = new Map();
  let phase = "load";
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("response", (response) => {
    const at = new URL(response.url());
    if (at.origin === url.origin && !fetched.has(at.pathname)) fetched.set(at.pathname, phase);
  });
  await page.goto(url.href);
  await page.waitForLoadState("networkidle");
  phase = "hydrate";
  await page.mouse.move(10, 10);
  await page.mouse.move(40, 40);
  // Hydrated: the bundle has run and the page has gone quiet.
  await page.waitForFunction(() =>
    performance.getEntriesByType("resource").some((entry) => entry.name.endsWith(".wasm")),
  );
  await page.waitForLoadState("networkidle");
  await browser.close();
  for (const [path, when] of fetched) console.log(`${when} ${path}`);
  if (errors.length > 0) {
    console.error(`first visit to ${url.pathname}: ${errors.length} console error(s):`);
    for (const error of errors) console.error(`  ${error.slice(0, 300)}`);
    process.exit(1);
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
