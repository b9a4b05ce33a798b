import { expect, test } from "@playwright/test";
import { createServer, expectNoCspViolations, message, openSettings, person, register, send, shot, unique } from "./support";

// Nothing the app did was refused by the served Content-Security-Policy.
test.afterEach(() => expectNoCspViolations());

test("two people: invite, live chat, reply, react, edit, delete, private channel, role, search, kick", async ({ browser }) => {
  const ada = await person(browser, "ada");
  const bo = await person(browser, "bo");
  const adaName = unique("ada");
  const boName = unique("bo");
  const serverName = `Book club ${adaName.slice(-4)}`;

  // Ada registers and creates a server.
  await register(ada, adaName);
  await createServer(ada, serverName);
  await shot(ada, "01-new-server");

  // She creates an invite; Bo opens the link, sees the preview, registers and joins.
  await ada.getByRole("button", { name: "Invite people" }).click();
  const link = await ada.getByLabel("Invite link").inputValue();
  await ada.getByRole("button", { name: "Close" }).click();
  const invitePath = new URL(link).pathname;
  await bo.goto(invitePath);
  await expect(bo.getByRole("heading", { name: serverName })).toBeVisible();
  await shot(bo, "02-invite-preview");
  await bo.getByRole("link", { name: "Register to join" }).click();
  await register(bo, boName, invitePath);
  await bo.getByRole("button", { name: "Accept invite" }).click();
  await expect(bo.getByRole("log", { name: "Messages in #general" })).toBeVisible();

  // They chat live, both ways.
  await send(ada, "general", "Welcome, **friend**! Read `chapter 1` ||it ends well||");
  await expect(message(bo, "Welcome,")).toBeVisible();
  await expect(message(bo, "Welcome,").locator("strong")).toHaveText("friend");
  // Typing shows on the other side (and stops with the message).
  await bo.getByRole("textbox", { name: "Message #general" }).pressSequentially("Tha");
  await expect(ada.getByText(`${boName} is typing…`)).toBeVisible();
  await send(bo, "general", "Thanks! Happy to be here");
  await expect(message(ada, "Happy to be here")).toBeVisible();

  // The member list shows both, online.
  await ada.getByRole("button", { name: "Members" }).click();
  await expect(ada.getByRole("region", { name: "Online, 2" })).toContainText(boName);
  await ada.getByRole("button", { name: "Close members" }).click();

  // Ada pins her welcome; both see it in the pins panel.
  const pinned = message(ada, "Welcome,");
  await pinned.hover();
  await pinned.getByRole("button", { name: "Pin" }).click();
  await expect(message(bo, "Welcome,")).toContainText("pinned");
  await bo.getByRole("button", { name: "Pins" }).click();
  await expect(bo.getByRole("complementary", { name: "Pinned messages" })).toContainText("Welcome,");
  await bo.getByRole("button", { name: "Close pinned messages" }).click();

  // Hostile markup is shown as text, never run.
  await send(ada, "general", '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>');
  await expect(message(bo, "<script>")).toBeVisible();
  expect(await bo.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

  // Bo replies to Ada's welcome; Ada sees the quoted preview.
  const welcome = message(bo, "Welcome,");
  await welcome.hover();
  await welcome.getByRole("button", { name: "Reply" }).click();
  await send(bo, "general", "Replying to you");
  const reply = message(ada, "Replying to you");
  await expect(reply.getByLabel("Replying to")).toContainText(adaName);

  // Ada reacts; Bo sees the count and adds his own.
  await reply.hover();
  await reply.getByRole("button", { name: "Add reaction" }).click();
  await ada.getByRole("menuitem", { name: "React with 👍" }).click();
  const boReply = message(bo, "Replying to you");
  await expect(boReply.getByRole("button", { name: /👍 1 reaction/ })).toBeVisible();
  await boReply.getByRole("button", { name: /👍 1 reaction/ }).click();
  await expect(reply.getByRole("button", { name: /👍 2 reactions/ })).toBeVisible();
  // Who reacted, on hover.
  await reply.getByRole("button", { name: /👍 2 reactions/ }).hover();
  await expect(reply.getByRole("button", { name: /👍 2 reactions/ })).toHaveAccessibleDescription(/by .*(ada|bo).*, .*(ada|bo)/);

  // Bo edits his message; Ada sees the edit. Then he deletes it; it goes for both.
  await boReply.hover();
  await boReply.getByRole("button", { name: "Edit" }).click();
  await bo.getByRole("textbox", { name: "Edit message" }).fill("Replying to you, edited");
  await bo.getByRole("textbox", { name: "Edit message" }).press("Enter");
  await expect(message(ada, "Replying to you, edited")).toContainText("(edited)");
  await shot(ada, "03-chat");
  const thanks = message(bo, "Happy to be here");
  await thanks.hover();
  bo.once("dialog", (d) => void d.accept());
  await thanks.getByRole("button", { name: "Delete" }).click();
  await expect(message(ada, "Happy to be here")).toHaveCount(0);
  await expect(message(bo, "Happy to be here")).toHaveCount(0);

  // Ada blocks Bo from the member list: his messages collapse for her, the new one (live, not
  // marked by the gateway) as well as those loaded; after a reload too (marked by the API).
  await ada.getByRole("button", { name: "Members" }).click();
  const boMember = () => ada.getByRole("complementary", { name: "Members" }).getByRole("listitem", { name: boName });
  await expect(ada.getByRole("complementary", { name: "Members" }).getByRole("listitem", { name: adaName }).getByRole("button")).toHaveCount(0);
  await boMember().getByRole("button", { name: "Block" }).click();
  await expect(boMember().getByRole("button", { name: "Unblock" })).toBeVisible();
  await expect(message(ada, "Replying to you, edited")).toHaveCount(0);
  await send(bo, "general", "a word Ada has blocked");
  await expect(message(bo, "a word Ada has blocked")).toBeVisible();
  const blocked = ada.getByRole("log", { name: "Messages in #general" }).getByRole("article", { name: "Blocked message" });
  await expect(blocked).toHaveCount(2);
  await expect(message(ada, "a word Ada has blocked")).toHaveCount(0);
  await ada.reload();
  await expect(blocked).toHaveCount(2);
  await expect(message(ada, "Welcome,")).toBeVisible(); // her own are not
  await shot(ada, "14-blocked");
  // She shows the newest one; then unblocks him and his messages are back.
  await blocked.last().getByRole("button", { name: "Show blocked message" }).click();
  await expect(message(ada, "a word Ada has blocked")).toBeVisible();
  await expect(blocked).toHaveCount(1);
  await ada.getByRole("button", { name: "Members" }).click();
  await boMember().getByRole("button", { name: "Unblock" }).click();
  await expect(boMember().getByRole("button", { name: "Block" })).toBeVisible();
  await ada.getByRole("button", { name: "Close members" }).click();
  await expect(blocked).toHaveCount(0);
  await expect(message(ada, "Replying to you, edited")).toBeVisible();
  // Bo's view never changed.
  await expect(message(bo, "Replying to you, edited")).toBeVisible();

  // Bo turns off DMs from this server's members in its Privacy dialog; it stays off.
  await bo.getByRole("button", { name: "Privacy" }).click();
  const allow = bo.getByRole("dialog").getByRole("checkbox", { name: /Allow direct messages from server members/ });
  await expect(allow).toBeChecked();
  await allow.uncheck();
  await expect(allow).not.toBeChecked();
  await expect(allow).toBeEnabled();
  await bo.getByRole("dialog").getByRole("button", { name: "Close" }).click();
  await bo.reload(); // what the server says, not what this page remembers
  await bo.getByRole("button", { name: "Privacy" }).click();
  await expect(bo.getByRole("dialog").getByRole("checkbox", { name: /Allow direct messages/ })).not.toBeChecked();
  await bo.getByRole("dialog").getByRole("button", { name: "Close" }).click();

  // A plain member sees no server settings.
  await expect(bo.getByRole("button", { name: "Server settings" })).toHaveCount(0);

  // Ada makes a role and a private channel only that role can see: Bo does not see it.
  let settings = await openSettings(ada);
  await settings.getByRole("tab", { name: "Roles" }).click();
  await settings.getByLabel("New role name").fill("insiders");
  await settings.getByRole("button", { name: "Create role" }).click();
  await expect(settings.getByRole("button", { name: "insiders", exact: true })).toBeVisible();
  // Roles are ordered highest first; moving "insiders" up puts it above "moderator".
  const roleNames = () => settings.getByRole("list", { name: "Roles" }).getByRole("button").allTextContents();
  const before = await roleNames();
  await settings.getByRole("button", { name: "Move insiders up" }).click();
  await expect.poll(async () => (await roleNames()).indexOf("insiders")).toBeLessThan(before.indexOf("insiders"));
  await settings.getByRole("tab", { name: "Channels" }).click();
  await settings.getByLabel("Channel name").fill("secret");
  await settings.getByLabel(/Private channel/).check();
  await settings.getByRole("checkbox", { name: "insiders" }).check();
  await settings.getByRole("button", { name: "Create channel" }).click();
  await expect(settings.getByRole("status")).toHaveText("Created #secret");
  await settings.getByRole("button", { name: "Close" }).click();
  await expect(ada.getByRole("link", { name: "secret" })).toBeVisible();
  await send(ada, "general", "checkpoint after the private channel");
  await expect(message(bo, "checkpoint after the private channel")).toBeVisible();
  await expect(bo.getByRole("link", { name: "secret" })).toHaveCount(0);
  // "Why can't he see it?": the explainer shows the default role's overwrite denying it.
  settings = await openSettings(ada);
  await settings.getByRole("tab", { name: "Permissions explained" }).click();
  await settings.getByLabel("Member").selectOption({ label: boName });
  await settings.getByLabel("Channel").selectOption({ label: "secret" });
  await settings.getByRole("button", { name: "Explain" }).click();
  await expect(settings.getByRole("region", { name: "Explanation" })).toContainText("channel overwrite for the default role");
  await expect(settings.getByRole("region", { name: "Explanation" })).toContainText("nothing: the channel is hidden");
  await settings.getByRole("button", { name: "Close" }).click();

  // The role opens it: Ada gives Bo "insiders", and the channel appears for him.
  settings = await openSettings(ada);
  await settings.getByRole("tab", { name: "Members" }).click();
  await settings.getByRole("listitem", { name: boName }).getByRole("checkbox", { name: "insiders" }).check();
  await settings.getByRole("button", { name: "Close" }).click();
  await expect(bo.getByRole("link", { name: "secret" })).toBeVisible();
  await ada.getByRole("link", { name: "secret" }).click();
  await send(ada, "secret", "the plot twist is in chapter 9");
  await bo.getByRole("link", { name: "secret" }).click();
  await expect(message(bo, "plot twist")).toBeVisible();

  // Bo writes in #general while Ada reads #secret: #general is unread for her until she opens it.
  // He mentions her, picking her name from the suggestions: a mention count for her.
  await bo.getByRole("link", { name: "general" }).click();
  const box = bo.getByRole("textbox", { name: "Message #general" });
  await box.fill(`back in general, @${adaName.slice(0, 4)}`);
  await bo.getByRole("option", { name: `@${adaName}` }).click();
  await box.press("Enter");
  await expect(message(bo, "back in general")).toContainText(`@${adaName}`);
  await expect(ada.getByRole("link", { name: "general" })).toHaveAccessibleDescription("unread, 1 mention");
  await ada.getByRole("link", { name: "general" }).click();
  await expect(message(ada, "back in general")).toBeVisible();
  await expect(ada.getByRole("link", { name: "general" })).not.toHaveAccessibleDescription("unread");

  // Search finds a message.
  await bo.getByRole("button", { name: "Search" }).click();
  await bo.getByRole("searchbox", { name: "Search messages" }).fill("chapter");
  await bo.getByRole("searchbox", { name: "Search messages" }).press("Enter");
  await expect(bo.getByRole("list", { name: "Search results" })).toContainText("plot twist");
  await shot(bo, "04-search");
  // Jump to the result: its channel opens at it, the message highlighted.
  await bo.getByRole("list", { name: "Search results" }).getByRole("listitem").filter({ hasText: "plot twist" }).getByRole("button", { name: /^Jump to/ }).click();
  await expect(bo).toHaveURL(/\/channels\/\d+\/\d+\?m=\d+$/);
  await expect(bo.getByRole("log", { name: "Messages in #secret" }).locator("[data-highlighted=true]")).toContainText("plot twist");

  // Kick: Bo's view loses the server at once.
  settings = await openSettings(ada);
  await settings.getByRole("tab", { name: "Members" }).click();
  await settings.getByRole("listitem", { name: boName }).getByRole("button", { name: "Kick" }).click();
  await expect(bo.getByRole("alert").filter({ hasText: "no longer a member" })).toBeVisible();
  await expect(bo.getByRole("button", { name: serverName })).toHaveCount(0);
  await shot(bo, "05-kicked");
});
