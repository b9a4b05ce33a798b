import { expect, test } from "@playwright/test";
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { message, send, twoPeopleInOneServer } from "../e2e/support";

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

test("budgets: initial JS, first render, delivery latency, 10,000 messages scrolled", async ({ browser }) => {
  // 1. Initial JavaScript: what index.html loads before anything else (gzip -9).
  const html = readFileSync("dist/index.html", "utf8");
  const initial = [...html.matchAll(/src="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]!);
  const gz = (f: string) => gzipSync(readFileSync(`dist/assets/${f}`), { level: 9 }).length;
  const all = readdirSync("dist/assets").filter((f) => f.endsWith(".js"));
  console.log(`initial JS: ${initial.map((f) => `${f} ${(gz(f) / 1024).toFixed(1)} KiB gz`).join(", ")}`);
  console.log(`every chunk: ${all.map((f) => `${f} ${(gz(f) / 1024).toFixed(1)} KiB`).join(", ")}`);

  const { ada, bo } = await twoPeopleInOneServer(browser);
  const channelUrl = ada.url();

  // 2. First render of the app shell, signed in, from a fresh load (5 runs).
  const shell: number[] = [];
  const history: number[] = [];
  for (let i = 0; i < 5; i++) {
    await ada.goto(channelUrl);
    await expect(ada.getByRole("log", { name: "Messages in #general" })).toBeVisible();
    await ada.waitForFunction(() => performance.getEntriesByName("harmoniq:history").length > 0);
    const [fcp, ready, hist] = await ada.evaluate(() => [
      performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? -1,
      performance.getEntriesByName("harmoniq:ready")[0]?.startTime ?? -1,
      performance.getEntriesByName("harmoniq:history")[0]?.startTime ?? -1,
    ]);
    shell.push(ready);
    history.push(hist);
    console.log(`load ${i}: first paint ${fcp.toFixed(0)} ms, gateway READY and shell ${ready.toFixed(0)} ms, history shown ${hist.toFixed(0)} ms`);
  }
  console.log(`shell rendered (READY applied): p50 ${pct(shell, 50).toFixed(0)} ms, max ${Math.max(...shell).toFixed(0)} ms`);
  console.log(`history shown: p50 ${pct(history, 50).toFixed(0)} ms, max ${Math.max(...history).toFixed(0)} ms`);

  // 3. A message sent in one browser, visible in the other (same clock: one machine).
  await bo.evaluate(() => {
    const w = window as unknown as { seen: Record<string, number> };
    w.seen = {};
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('[data-testid="message-content"]')) {
        const m = /latency-(\d+)/.exec(el.textContent ?? "");
        if (m && !(m[1]! in w.seen)) w.seen[m[1]!] = Date.now();
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const latencies: number[] = [];
  for (let i = 0; i < 20; i++) {
    const sentAt = await ada.evaluate(() => Date.now());
    await send(ada, "general", `latency-${i}`);
    await expect(message(bo, `latency-${i}`)).toBeVisible();
    const seenAt = await bo.evaluate((k) => (window as unknown as { seen: Record<string, number> }).seen[k]!, String(i));
    latencies.push(seenAt - sentAt);
    await ada.waitForTimeout(1100); // under the 5 messages / 5 s per channel limit
  }
  console.log(`send → visible in the other browser: p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms, max ${Math.max(...latencies)} ms`);

  // 4. 10,000 loaded messages (history pages served by the test: 200 pages of 50), then
  //    scrolled top to bottom; long tasks (> 50 ms) counted while scrolling.
  const reader = await (await browser.newContext()).newPage();
  await reader.addInitScript(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: "longtask", buffered: true });
  });
  const session = await ada.evaluate(() => localStorage.getItem("harmoniq.session")!);
  await reader.goto("/login");
  await reader.evaluate((s) => localStorage.setItem("harmoniq.session", s), session);
  const base = 2_000_000_000_000_000_000n;
  await reader.route(/\/api\/v1\/channels\/\d+\/messages\?limit=50/, async (route) => {
    const url = new URL(route.request().url());
    const channelId = /channels\/(\d+)/.exec(url.pathname)![1]!;
    const before = url.searchParams.get("before");
    const top = before ? BigInt(before) : base + 10_000n;
    const page = [];
    for (let k = 1n; k <= 50n && top - k >= base; k++) {
      const id = (top - k).toString();
      page.push({
        id,
        server_id: "1",
        channel_id: channelId,
        author: { id: String(3 + Number(k % 3n)), username: `reader${k % 3n}`, avatar_url: null },
        content: `message ${id.slice(-5)} with **some** text and \`code\` to render ${"lorem ipsum ".repeat(Number(k % 4n))}`,
        created_at: new Date(Date.UTC(2026, 11, 1) + Number(top - k - base) * 400_000).toISOString(),
        mention_everyone: false,
        pinned: false,
        reactions: k % 7n === 0n ? [{ emoji: "👍", count: 2, me: false }] : [],
        attachments: [],
      });
    }
    await route.fulfill({ json: page });
  });
  await reader.goto(channelUrl);
  const log = reader.getByRole("log", { name: "Messages in #general" });
  await expect(log).toBeVisible();
  const loadMs = await log.evaluate(async (el) => {
    const started = performance.now();
    while (!el.querySelector("h2")?.textContent?.includes("Welcome") && performance.now() - started < 240_000) {
      el.scrollTop = 0;
      el.dispatchEvent(new Event("scroll"));
      await new Promise((r) => setTimeout(r, 20));
    }
    return performance.now() - started;
  });
  await expect(reader.getByRole("heading", { name: "Welcome to #general" })).toBeVisible();
  console.log(`10,000 messages loaded by scrolling back (200 pages of 50) in ${loadMs.toFixed(0)} ms`);
  const domRows = await reader.locator("[data-message-id]").count();
  const result = await log.evaluate(async (el) => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    const started = performance.now();
    const frames: number[] = [];
    let last = started;
    for (let step = 0; step < 400 && el.scrollTop + el.clientHeight < el.scrollHeight - 2; step++) {
      el.scrollTop += 1500;
      await new Promise((r) => requestAnimationFrame(r));
      const now = performance.now();
      frames.push(now - last);
      last = now;
    }
    return { ms: performance.now() - started, frames, longTasks: w.longTasks, height: el.scrollHeight };
  });
  const worstFrame = Math.max(...result.frames);
  console.log(
    `scrolled ${result.height} px through 10,000 messages (${domRows} rows in the DOM) in ${result.ms.toFixed(0)} ms over ${result.frames.length} frames: ` +
      `worst frame ${worstFrame.toFixed(0)} ms, p99 frame ${pct(result.frames, 99).toFixed(0)} ms, long tasks: ${result.longTasks.length} (max ${Math.max(0, ...result.longTasks).toFixed(0)} ms)`,
  );
});
