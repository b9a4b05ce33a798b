import { expect, test } from "@playwright/test";
import { expectNoCspViolations, message, openSettings, png, send, shot, twoPeopleInOneServer } from "./support";

// Nothing the app did was refused by the served Content-Security-Policy.
test.afterEach(() => expectNoCspViolations());

test("an uploaded image: progress, then both people see its thumbnail and open it", async ({ browser }) => {
  const { ada, bo } = await twoPeopleInOneServer(browser);
  await ada.getByTestId("file-input").setInputFiles({ name: "sunset.png", mimeType: "image/png", buffer: png(640, 400) });
  await expect(ada.getByRole("list", { name: "Attachments" })).toContainText("sunset.png");
  // Sent at once with a caption: the message waits for the upload, shown as pending.
  await send(ada, "general", "look at this");
  for (const page of [ada, bo]) {
    const image = message(page, "look at this").getByRole("img", { name: "sunset.png" });
    await expect(image).toBeVisible();
    // The thumbnail really loaded (a decoded image, 256 px wide at most).
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(256);
  }
  await shot(bo, "06-image");

  // Bo drops a file onto the message box: it uploads and goes out with his message.
  await bo.evaluate(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(["notes for the club"], "notes.txt", { type: "text/plain" }));
    const target = document.getElementById("composer")!;
    target.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: transfer }));
    target.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: transfer }));
  });
  await expect(bo.getByRole("list", { name: "Attachments" })).toContainText("notes.txt");
  await send(bo, "general", "the notes");
  // Not an image: a download card for both.
  await expect(message(ada, "the notes").getByRole("link", { name: /notes\.txt/ })).toBeVisible();

  // Ada gives the server an icon: both see it in their server list.
  const settings = await openSettings(ada);
  await settings.getByLabel(/^Icon/).setInputFiles({ name: "icon.png", mimeType: "image/png", buffer: png(128, 128) });
  await settings.getByRole("button", { name: "Save" }).click();
  await expect(settings.getByRole("status")).toHaveText("Saved");
  await settings.getByRole("button", { name: "Close" }).click();
  for (const page of [ada, bo]) {
    const icon = page.getByRole("navigation", { name: "Servers" }).locator('img[src*="/api/v1/media/public/"]');
    await expect.poll(() => icon.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  }
  await message(bo, "look at this").getByRole("button", { name: "Open image sunset.png" }).click();
  const lightbox = bo.getByRole("dialog", { name: "sunset.png" });
  await expect.poll(() => lightbox.getByRole("img").evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(640);
});

test("a dropped gateway connection resumes: what was sent meanwhile shows once", async ({ browser }) => {
  const { ada, bo } = await twoPeopleInOneServer(browser);
  await send(ada, "general", "before the drop");
  await expect(message(bo, "before the drop")).toBeVisible();
  // Bo's socket drops; Ada sends while he is away (he reconnects after ~0.5 s and RESUMEs).
  await bo.evaluate(() => window.__harmoniqGateway?.drop());
  await send(ada, "general", "while you were away");
  await expect(message(bo, "while you were away")).toHaveCount(1);
  await send(ada, "general", "after the resume");
  await expect(message(bo, "after the resume")).toHaveCount(1);
  await expect(message(bo, "while you were away")).toHaveCount(1);
  await expect(message(bo, "before the drop")).toHaveCount(1);

  // Bo deletes his account: he is signed out at once.
  await bo.getByLabel(/^Signed in as /).click();
  const profile = bo.getByRole("dialog", { name: "Your profile" });
  await profile.getByLabel("Password").fill("correct horse battery");
  bo.once("dialog", (d) => void d.accept());
  await profile.getByRole("button", { name: "Delete my account" }).click();
  await expect(bo.getByRole("heading", { name: "Welcome back" })).toBeVisible();
});

test("stay logged in across reloads; logout returns to the login page; a revoked session too", async ({ browser }) => {
  const { ada, adaName } = await twoPeopleInOneServer(browser);
  await ada.reload();
  await expect(ada.getByLabel(`Signed in as ${adaName}`)).toBeVisible();
  // Her profile: a status and an avatar, which then shows in her panel.
  await ada.getByLabel(`Signed in as ${adaName}`).click();
  const profile = ada.getByRole("dialog", { name: "Your profile" });
  await profile.getByLabel("Status").selectOption("idle");
  await profile.getByLabel(/Avatar/).setInputFiles({ name: "me.png", mimeType: "image/png", buffer: png(300, 300) });
  await profile.getByRole("button", { name: "Save" }).click();
  await expect(profile.getByRole("status")).toHaveText("Saved");
  await profile.getByRole("button", { name: "Close" }).click();
  const avatar = ada.locator('img[src*="/api/v1/media/public/"]').first();
  await expect.poll(() => avatar.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(256);
  // The same account in a second browser: logging out everywhere there ends this session too.
  const other = await browser.newContext();
  const page = await other.newPage();
  await page.goto("/login");
  await page.getByLabel("Email or username").fill(adaName);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByLabel(`Signed in as ${adaName}`)).toBeVisible();
  const status = await page.evaluate(async () => {
    const stored = JSON.parse(localStorage.getItem("harmoniq.session")!) as { access: string };
    const r = await fetch("/api/v1/auth/logout-all", { method: "POST", headers: { Authorization: `Bearer ${stored.access}` } });
    return r.status;
  });
  expect(status).toBe(204);
  // Ada's first browser: the gateway closes (4012) and the app shows the login page.
  await expect(ada.getByRole("heading", { name: "Welcome back" })).toBeVisible();
  await shot(ada, "07-login");
  // Logging in again, then out with the button.
  await ada.getByLabel("Email or username").fill(adaName);
  await ada.getByLabel("Password").fill("correct horse battery");
  await ada.getByRole("button", { name: "Log in" }).click();
  await expect(ada.getByLabel(`Signed in as ${adaName}`)).toBeVisible();
  await ada.getByRole("button", { name: "Log out" }).click();
  await expect(ada.getByRole("heading", { name: "Welcome back" })).toBeVisible();
  await ada.goto("/channels");
  await expect(ada).toHaveURL(/\/login\?next=/);
});
