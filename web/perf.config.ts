import base from "./playwright.config";
import { defineConfig } from "@playwright/test";

// The budgets (docs/performance.md): figures printed, never a gate. Run against a fleet:
//   HARMONIQ_WEB_URL=http://127.0.0.1:8080 npx playwright test --config perf.config.ts
export default defineConfig({ ...base, testDir: "perf", timeout: 300_000 });
