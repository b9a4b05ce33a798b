import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { expectNoCspViolations, openSettings, send, shot, twoPeopleInOneServer } from "./support";

// Nothing the app did was refused by the served Content-Security-Policy.
test.afterEach(() => expectNoCspViolations());

/** axe-core over the page as it is now: no serious or critical violation. */
async function audit(page: Page, view: string) {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const report = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join("\n  ")}`);
  expect(report, `${view}: accessibility violations`).toEqual([]);
}

test("the main views have no serious accessibility violations, dark and light, wide and phone", async ({ browser }) => {
  const anonymous = await (await browser.newContext()).newPage();
  await anonymous.goto("/login");
  await expect(anonymous.getByRole("heading", { name: "Welcome back" })).toBeVisible();
  await audit(anonymous, "login");

  const { ada, bo } = await twoPeopleInOneServer(browser);
  await send(ada, "general", "Hello **everyone**, see `the notes` and https://example.com ||spoiler||");
  await expect(bo.getByRole("article").filter({ hasText: "Hello" })).toBeVisible();
  await audit(ada, "channel (dark)");
  await ada.getByRole("button", { name: "Use the light theme" }).click();
  await audit(ada, "channel (light)");
  await shot(ada, "08-light");
  await ada.getByRole("button", { name: "Use the dark theme" }).click();

  const settings = await openSettings(ada);
  await expect(settings).toBeVisible();
  await audit(ada, "server settings");
  await settings.getByRole("button", { name: "Close" }).click();

  await bo.setViewportSize({ width: 390, height: 844 });
  await shot(bo, "09-phone");
  await bo.getByRole("button", { name: "Open navigation" }).click();
  await expect(bo.getByRole("navigation", { name: "Servers" })).toBeVisible();
  await audit(bo, "navigation at phone width");

  // Bo leaves the server from there: it is gone from his list.
  bo.once("dialog", (d) => void d.accept());
  await bo.getByRole("button", { name: "Leave server" }).click();
  await expect(bo.getByRole("navigation", { name: "Servers" }).getByRole("button", { name: /^Club / })).toHaveCount(0);
});
