import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { expectNoCspViolations, message, person, register, shot, unique } from "./support";

// Nothing the app did was refused by the served Content-Security-Policy.
test.afterEach(() => expectNoCspViolations());

async function say(page: Page, to: string, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: `Message @${to}` });
  await box.fill(text);
  await box.press("Enter");
}

test("friends and direct messages: request, accept, DM live, unread badge cleared by reading in another session, a group DM", async ({ browser }) => {
  const ada = await person(browser, "ada");
  const bo = await person(browser, "bo");
  const adaName = unique("ada");
  const boName = unique("bo");
  await register(ada, adaName);
  await register(bo, boName);
  // The app is served with its Content-Security-Policy (deploy/nginx/web.conf), and runs under it.
  const policy = (await ada.request.get("/channels/@me")).headers()["content-security-policy"] ?? "";
  expect(policy).toContain("script-src 'self';");
  expect(policy).not.toContain("unsafe-inline");

  // Ada asks Bo to be friends by his username; it shows as sent.
  await ada.getByRole("button", { name: "Home" }).click();
  await ada.getByLabel("Username to add").fill(boName);
  await ada.getByRole("button", { name: "Send friend request" }).click();
  await expect(ada.getByRole("region", { name: "Outgoing requests" })).toContainText(boName);

  // Bo sees it arrive live, and accepts: both see each other as friends.
  await expect(bo.getByRole("link", { name: /Friends.*1 pending/ })).toBeVisible();
  const request = bo.getByRole("region", { name: "Incoming requests" }).getByRole("listitem", { name: adaName });
  await expect(request).toBeVisible();
  await request.getByRole("button", { name: "Accept" }).click();
  await expect(bo.getByRole("region", { name: "Friends, 1" })).toContainText(adaName);
  await expect(ada.getByRole("region", { name: "Friends, 1" })).toContainText(boName);
  await expect(ada.getByRole("region", { name: "Outgoing requests" })).toHaveCount(0);
  await shot(ada, "10-friends");

  // Bo has a second session (another device) open on Home.
  const bo2 = await person(browser, "bo2");
  await bo2.goto("/login?next=%2Fchannels%2F%40me");
  await bo2.getByLabel("Email or username").fill(boName);
  await bo2.getByLabel("Password").fill("correct horse battery");
  await bo2.getByRole("button", { name: "Log in" }).click();
  await expect(bo2.getByLabel(`Signed in as ${boName}`)).toBeVisible();

  // Ada opens a DM with him and writes: the DM appears for Bo, unread, in both his sessions.
  await ada.getByRole("region", { name: "Friends, 1" }).getByRole("listitem", { name: boName }).getByRole("button", { name: "Message" }).click();
  await expect(ada.getByRole("log", { name: `Messages in @${boName}` })).toBeVisible();
  await say(ada, boName, "hi **Bo**, a private word");
  await expect(message(ada, "a private word")).toBeVisible();
  for (const page of [bo, bo2]) {
    const dmLink = page.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: adaName });
    await expect(dmLink).toHaveAccessibleDescription(/^unread/);
    await expect(dmLink.getByTestId("unread-badge")).toHaveText("1");
    await expect(page.getByRole("button", { name: "Home" })).toHaveAccessibleDescription("1 unread direct message");
  }
  await shot(bo2, "11-dm-unread");

  // Bo reads it: the marker goes here, and in his other session through channel.ack.
  await bo.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: adaName }).click();
  await expect(message(bo, "a private word").locator("strong")).toHaveText("Bo");
  const bo2Link = bo2.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: adaName });
  await expect(bo2Link).not.toHaveAccessibleDescription(/unread/);
  await expect(bo2Link.getByTestId("unread-badge")).toHaveCount(0);
  await expect(bo2.getByRole("button", { name: "Home" })).not.toHaveAccessibleDescription(/unread/);

  // They chat live both ways in the DM, with reactions as in a channel. Bo's typing shows
  // for Ada first (op 4 with the DM's id), and ends with his message.
  await bo.getByRole("textbox", { name: `Message @${adaName}` }).pressSequentially("hel");
  await expect(ada.getByText(`${boName} is typing…`)).toBeVisible();
  await say(bo, adaName, "hello Ada, got it");
  await expect(message(ada, "got it")).toBeVisible();
  await expect(ada.getByText(`${boName} is typing…`)).toHaveCount(0);
  await expect(message(bo2, "got it")).toHaveCount(0); // bo2 is on Home, not in the DM
  const got = message(ada, "got it");
  await got.hover();
  await got.getByRole("button", { name: "Add reaction" }).click();
  await ada.getByRole("menuitem", { name: "React with 👍" }).click();
  await expect(message(bo, "got it").getByRole("button", { name: /👍 1 reaction/ })).toBeVisible();
  await shot(bo, "12-dm");

  const result = await new AxeBuilder({ page: bo }).withTags(["wcag2a", "wcag2aa"]).analyze();
  expect(result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id)).toEqual([]);

  // A group DM: Ada befriends Cy too, then starts a group with both; it arrives for them live.
  const cy = await person(browser, "cy");
  const cyName = unique("cy");
  await register(cy, cyName);
  await ada.getByRole("button", { name: "Home" }).click();
  await ada.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: "Friends" }).click();
  await ada.getByLabel("Username to add").fill(cyName);
  await ada.getByRole("button", { name: "Send friend request" }).click();
  await cy.getByRole("region", { name: "Incoming requests" }).getByRole("listitem", { name: adaName }).getByRole("button", { name: "Accept" }).click();
  const group = ada.getByRole("region", { name: "New group DM" });
  await group.getByRole("checkbox", { name: boName }).check();
  await group.getByRole("checkbox", { name: cyName }).check();
  await group.getByLabel("Group name").fill("Trio");
  await group.getByRole("button", { name: "Create group DM" }).click();
  await expect(ada.getByRole("log", { name: "Messages in @Trio" })).toBeVisible();
  await say(ada, "Trio", "hello both of you");
  await expect(bo2.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: "Trio" })).toHaveAccessibleDescription(/^unread/);
  await cy.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: "Trio" }).click();
  await expect(message(cy, "hello both of you")).toBeVisible();
  await say(cy, "Trio", "hi from Cy");
  await expect(message(ada, "hi from Cy")).toBeVisible();

  // Ada removes Bo as a friend: gone from both lists; the DM history stays.
  await ada.getByRole("button", { name: "Home" }).click();
  await ada.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: "Friends" }).click();
  await ada.getByRole("region", { name: "Friends, 2" }).getByRole("listitem", { name: boName }).getByRole("button", { name: "Remove" }).click();
  await expect(ada.getByRole("region", { name: "Friends, 1" })).toBeVisible();
  await expect(bo2.getByRole("region", { name: "Friends, 0" })).toBeVisible();
  await expect(ada.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: boName })).toBeVisible();
});
