import { defineConfig } from "@playwright/test";

// The browser journeys, run against a real fleet behind nginx (tests/web starts one and passes
// its address in HARMONIQ_WEB_URL). The browser is Debian's chromium, given by its path: no
// Playwright browser is ever downloaded (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).
const baseURL = process.env.HARMONIQ_WEB_URL ?? "http://127.0.0.1:8080";
const executablePath = process.env.HARMONIQ_CHROMIUM ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  timeout: 90_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath,
      // Voice: a fake microphone (a beeping tone) granted without a prompt.
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
    },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
});
