import { defineConfig, devices } from "@playwright/test";

const chromium = require("./chromium.js");

// The server is started by `cargo leptos end-to-end` (see the Makefile's `test` target);
// the global set-up waits until it answers.
const baseURL = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  testDir: "./tests",
  globalSetup: require.resolve("./global-setup"),
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    actionTimeout: 10_000,
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        // The machine's Chromium, launched as the benchmark launches it.
        launchOptions: chromium,
      },
    },
  ],
});
