import { expect, type Browser, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const SCREENS = process.env.HARMONIQ_SCREENS_DIR ?? "e2e-screens";

export function unique(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: join(SCREENS, `${name}.png`) });
}

/** A person: their own browser context (own storage, own session). */
export async function person(browser: Browser, name: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`[${name}] page error:`, error.message));
  return page;
}

export async function register(page: Page, username: string, next = "/channels"): Promise<void> {
  await page.goto(`/register?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page.getByLabel(`Signed in as ${username}`).or(page.getByRole("button", { name: "Accept invite" }))).toBeVisible();
}

export async function createServer(page: Page, name: string): Promise<void> {
  await page.getByRole("button", { name: "Create a server" }).click();
  await page.getByLabel("Server name").fill(name);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await expect(page.getByRole("heading", { name, level: 1 })).toBeVisible();
  await expect(page.getByRole("log", { name: "Messages in #general" })).toBeVisible();
}

export async function send(page: Page, channel: string, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: `Message #${channel}` });
  await box.fill(text);
  await box.press("Enter");
}

export function message(page: Page, text: string) {
  return page.getByRole("article").filter({ has: page.getByTestId("message-content").getByText(text, { exact: false }) });
}

export async function openSettings(page: Page) {
  await page.getByRole("button", { name: "Server settings" }).click();
  return page.getByRole("dialog");
}
