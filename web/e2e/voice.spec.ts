import { expect, test, type Page } from "@playwright/test";
import { expectNoCspViolations, shot, twoPeopleInOneServer } from "./support";

// Nothing the app did was refused by the served Content-Security-Policy.
test.afterEach(() => expectNoCspViolations());

/** Only TURN relay candidates: the call can connect only through the fleet's coturn. */
async function relayOnly(page: Page) {
  await page.evaluate(() => {
    window.__harmoniqVoiceRelayOnly = true;
  });
}

test("voice: two people join, see each other, connect peer to peer through the relay, speak, mute, leave", async ({ browser }) => {
  const { ada, bo, adaName, boName, serverName } = await twoPeopleInOneServer(browser);
  await relayOnly(ada);
  await relayOnly(bo);
  // Both join the server's voice channel: each sees both in it.
  await ada.getByRole("button", { name: "General", exact: true }).click();
  await expect(ada.getByRole("region", { name: "Voice" })).toContainText("Voice connected");
  await bo.getByRole("button", { name: "General", exact: true }).click();
  for (const page of [ada, bo]) {
    const inVoice = page.getByRole("list", { name: "In General" });
    await expect(inVoice.getByRole("listitem", { name: adaName })).toBeVisible();
    await expect(inVoice.getByRole("listitem", { name: boName })).toBeVisible();
  }

  // The peer connection reaches "connected", over a relay candidate.
  await expect(ada.getByRole("list", { name: "Voice connections" }).locator("[data-peer-state=connected]")).toHaveCount(1, { timeout: 30_000 });
  await expect(bo.getByRole("list", { name: "Voice connections" }).locator("[data-peer-state=connected]")).toHaveCount(1, { timeout: 30_000 });
  // Over a relay candidate: the ICE servers the API gave (the fleet's coturn) carried it.
  // (The stats may name the pair in use a moment after the state says "connected": asked again.)
  await expect
    .poll(
      () =>
        ada.evaluate(async () => {
          const engine = window.__harmoniqVoice!;
          return engine.candidateType(engine.peerIds()[0]!);
        }),
      { timeout: 15_000 },
    )
    .toBe("relay");

  // The fake microphone beeps: Ada sees Bo speaking (WebAudio analyser on his stream).
  await expect(ada.getByRole("list", { name: "In General" }).getByRole("listitem", { name: boName })).toHaveAttribute("data-speaking", "true", { timeout: 15_000 });
  await shot(ada, "13-voice");

  // Voice goes on while Ada looks elsewhere: the panel follows her Home.
  await ada.getByRole("button", { name: "Home" }).click();
  await expect(ada.getByRole("region", { name: "Voice" })).toContainText(`General / ${serverName}`);
  await ada.getByRole("button", { name: serverName }).click();

  // Bo mutes himself: Ada sees it.
  await bo.getByRole("button", { name: "Mute", exact: true }).click();
  await expect(bo.getByRole("button", { name: "Mute", exact: true })).toHaveAttribute("aria-pressed", "true");
  await expect(ada.getByRole("list", { name: "In General" }).getByRole("listitem", { name: boName })).toHaveAccessibleDescription(/muted/);

  // Bo leaves: both lists lose him; Ada's peer connection goes.
  await bo.getByRole("button", { name: "Disconnect" }).click();
  for (const page of [ada, bo]) {
    await expect(page.getByRole("list", { name: "In General" }).getByRole("listitem", { name: boName })).toHaveCount(0);
  }
  await expect(ada.getByRole("list", { name: "Voice connections" }).getByRole("listitem")).toHaveCount(0);
  await expect(bo.getByRole("region", { name: "Voice" })).toHaveCount(0);
  await ada.getByRole("button", { name: "Disconnect" }).click();
  await expect(ada.getByRole("list", { name: "In General" })).toHaveCount(0);
});
