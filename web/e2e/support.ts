import { expect, type Browser, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";
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
  // The served Content-Security-Policy (deploy/nginx/web.conf) must never have to refuse
  // anything the app does: chromium reports each refusal on the console.
  page.on("console", (entry) => {
    if (/Content Security Policy/i.test(entry.text())) cspViolations.push(`[${name}] ${entry.text()}`);
  });
  return page;
}

/** What the CSP refused so far, in any person's page: each journey ends expecting none. */
export const cspViolations: string[] = [];

export function expectNoCspViolations(): void {
  expect(cspViolations, "the Content-Security-Policy refused something the app did").toEqual([]);
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

/** A real PNG (a gradient, width × height), made here so the journeys ship no binary files. */
export function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      rows[row + 1 + x * 3] = (x * 255) / width;
      rows[row + 2 + x * 3] = (y * 255) / height;
      rows[row + 3 + x * 3] = 160;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Ada with a server and Bo joined through an invite; both on #general. */
export async function twoPeopleInOneServer(browser: Browser) {
  const ada = await person(browser, "ada");
  const bo = await person(browser, "bo");
  const adaName = unique("ada");
  const boName = unique("bo");
  const serverName = `Club ${adaName.slice(-4)}`;
  await register(ada, adaName);
  await createServer(ada, serverName);
  await ada.getByRole("button", { name: "Invite people" }).click();
  const invitePath = new URL(await ada.getByLabel("Invite link").inputValue()).pathname;
  await ada.getByRole("button", { name: "Close" }).click();
  await register(bo, boName, invitePath);
  await bo.getByRole("button", { name: "Accept invite" }).click();
  await expect(bo.getByRole("log", { name: "Messages in #general" })).toBeVisible();
  return { ada, bo, adaName, boName, serverName };
}
