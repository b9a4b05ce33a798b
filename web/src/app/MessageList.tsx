import { measureElement, useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { ChannelView, Message } from "../api/types";
import type { Pending } from "../state/messages";
import { channelLabel } from "./labels";
import { useApp } from "./context";
import { MessageRow, type RowActions } from "./MessageRow";
import { estimateRow, heightKey, knownHeight, rememberHeight } from "./rowHeights";

const PAGE = 50;

type Row =
  | { kind: "message"; message: Message; compact: boolean; heightKey: string; estimate: number }
  | { kind: "pending"; pending: Pending };

/** The text column's width for estimates: the pane less gutters (px-4) and the avatar column. */
function textWidth(): number {
  const pane = typeof window === "undefined" ? 900 : Math.min(window.innerWidth, 1600) - (window.innerWidth >= 768 ? 312 : 0);
  return Math.max(200, pane - 32 - 44);
}

/** Consecutive messages of one author within 5 minutes are shown without a header. */
function rowsOf(items: Message[], pending: Pending[]): Row[] {
  const rows: Row[] = [];
  const width = textWidth();
  let prev: Message | null = null;
  for (const message of items) {
    const compact =
      prev !== null &&
      prev.author.id === message.author.id &&
      !message.reply_to &&
      new Date(message.created_at).getTime() - new Date(prev.created_at).getTime() < 5 * 60_000;
    const key = heightKey(message, compact);
    rows.push({ kind: "message", message, compact, heightKey: key, estimate: knownHeight(key) ?? estimateRow(message, compact, width) });
    prev = message;
  }
  for (const p of pending) rows.push({ kind: "pending", pending: p });
  return rows;
}

/**
 * The channel's history, virtualised (only the rows in view are in the DOM, so 10,000 loaded
 * messages scroll like 50). Reaching the top loads the page before the oldest loaded message;
 * the view stays on the message that was at the top. New messages keep the view at the bottom
 * when it was there.
 */
export function MessageList({ channel, actions, highlight = null }: { channel: ChannelView; actions: RowActions; highlight?: string | null }) {
  const { state, api, dispatch } = useApp();
  const data = state.messages[channel.id];
  const items = useMemo(() => data?.items ?? [], [data?.items]);
  const rows = useMemo(() => rowsOf(items, data?.pending ?? []), [items, data?.pending]);
  const scroller = useRef<HTMLDivElement>(null);
  const loading = useRef(false);
  const atBottom = useRef(true);
  const firstId = useRef<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  // Stable unless the rows change: the virtualiser recomputes every offset when it changes.
  const getItemKey = useCallback(
    (index: number) => {
      const row = rows[index]!;
      return row.kind === "message" ? row.message.id : `pending-${row.pending.nonce}`;
    },
    [rows],
  );
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    // Cheap (called for every row after each size change): precomputed per row.
    estimateSize: (index) => {
      const row = rows[index];
      return row?.kind === "message" ? row.estimate : 44;
    },
    // Measured heights are remembered beyond this list's life (rowHeights.ts).
    measureElement: (element, entry, instance) => {
      const size = measureElement(element, entry, instance);
      const key = (element as HTMLElement).dataset.heightKey;
      if (key) rememberHeight(key, size);
      return size;
    },
    overscan: 10,
    getItemKey,
  });

  const hasMore = data?.hasMoreBefore ?? true;
  const oldest = items[0]?.id ?? null;
  const loadOlder = useCallback(async () => {
    if (loading.current || !hasMore) return;
    loading.current = true;
    try {
      const page = await api.history(channel.id, oldest, PAGE);
      dispatch({ type: "history", channelId: channel.id, page, limit: PAGE });
      setError(null);
    } catch {
      setError("Could not load messages.");
    } finally {
      loading.current = false;
    }
  }, [api, dispatch, channel.id, oldest, hasMore]);

  useEffect(() => {
    // A jump loads its own page (ChannelPane): loading the newest too would leave a gap.
    if (!data?.loaded && !highlight) void loadOlder();
    else if (!performance.getEntriesByName("harmoniq:history").length) performance.mark("harmoniq:history");
  }, [data?.loaded, loadOlder, highlight]);

  // Keep the reader's place: after an older page, the previous first message stays in view;
  // after a new message, stay at the bottom if we were there.
  const count = rows.length;
  useLayoutEffect(() => {
    if (count === 0) return;
    const previousFirst = firstId.current;
    firstId.current = items[0]?.id ?? null;
    if (previousFirst && items[0] && previousFirst !== items[0].id) {
      const index = items.findIndex((m) => m.id === previousFirst);
      if (index > 0 && !atBottom.current) {
        virtualizer.scrollToIndex(index, { align: "start" });
        return;
      }
    }
    if (atBottom.current) {
      virtualizer.scrollToIndex(count - 1, { align: "end" });
      requestAnimationFrame(() => {
        const el = scroller.current;
        if (el) el.scrollTop = el.scrollHeight;
      });
    }
  }, [count, items, virtualizer]);

  // The message jumped to: centred once it is loaded, and marked.
  const highlightIndex = highlight ? rows.findIndex((r) => r.kind === "message" && r.message.id === highlight) : -1;
  const centred = useRef<string | null>(null);
  useLayoutEffect(() => {
    if (highlightIndex < 0 || centred.current === highlight) return;
    centred.current = highlight;
    atBottom.current = false;
    virtualizer.scrollToIndex(highlightIndex, { align: "center" });
  }, [highlight, highlightIndex, virtualizer]);

  function onScroll() {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 300 && data?.loaded) void loadOlder();
  }

  return (
    <div
      ref={scroller}
      onScroll={onScroll}
      role="log"
      aria-label={`Messages in ${channelLabel(channel)}`}
      aria-busy={!data?.loaded}
      className="flex-1 overflow-y-auto"
    >
      {data?.loaded && !hasMore && (
        <div className="px-4 pb-2 pt-6">
          <h2 className="text-2xl font-bold">Welcome to {channelLabel(channel)}</h2>
          <p className="text-muted">This is the start of the channel.</p>
        </div>
      )}
      {error && <p role="alert" className="p-2 text-center text-danger">{error}</p>}
      <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
        {virtualizer.getVirtualItems().map((v) => {
          const row = rows[v.index]!;
          return (
            <div
              key={v.key}
              data-index={v.index}
              data-height-key={row.kind === "message" ? row.heightKey : undefined}
              data-highlighted={v.index === highlightIndex ? "true" : undefined}
              className={v.index === highlightIndex ? "bg-accent/15 ring-1 ring-inset ring-accent/60" : undefined}
              ref={virtualizer.measureElement}
              // Layout containment: a row's insides never move its neighbours' layout.
              style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${v.start}px)`, contain: "layout style" }}
            >
              {row.kind === "message" ? (
                <MessageRow message={row.message} actions={actions} compact={row.compact} />
              ) : (
                <PendingRow pending={row.pending} />
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}

function PendingRow({ pending }: { pending: Pending }) {
  const { state } = useApp();
  return (
    <article aria-label="Your message, sending" className={`px-4 py-0.5 pl-[60px] ${pending.failed ? "text-danger" : "opacity-60"}`} data-pending={pending.nonce}>
      {pending.replyTo && <p className="truncate text-xs text-muted">↱ @{pending.replyTo.author.username} {pending.replyTo.content}</p>}
      <p className="whitespace-pre-wrap break-words">
        <span className="sr-only">{state.me?.username}: </span>
        {pending.content}
      </p>
      <p className="text-xs" role={pending.failed ? "alert" : undefined}>
        {pending.failed ? "Not sent." : "Sending…"}
      </p>
    </article>
  );
}
