// The small markdown of messages, parsed into a tree of plain text nodes: **bold**, *italics*
// (or _italics_), `code`, ```code blocks```, ||spoilers||, links (http/https only) and
// mentions (<@id>, <@&role>). Nothing is ever interpreted as HTML: the renderer builds React
// elements from this tree and React escapes every string, so hostile markup shows as text.
export type MdNode =
  | { kind: "text"; text: string }
  | { kind: "bold" | "italic" | "spoiler"; children: MdNode[] }
  | { kind: "code"; text: string }
  | { kind: "codeblock"; text: string }
  | { kind: "link"; href: string; text: string }
  | { kind: "mention"; userId: string }
  | { kind: "role"; roleId: string };

interface Rule {
  pattern: RegExp;
  build: (match: RegExpExecArray, depth: number) => MdNode;
}

const MAX_DEPTH = 4;

// Order matters: earlier rules win at the same position.
const RULES: Rule[] = [
  { pattern: /```(?:[a-z0-9]*\n)?([\s\S]+?)```/y, build: (m) => ({ kind: "codeblock", text: m[1]! }) },
  { pattern: /`([^`\n]+)`/y, build: (m) => ({ kind: "code", text: m[1]! }) },
  { pattern: /\|\|([\s\S]+?)\|\|/y, build: (m, d) => ({ kind: "spoiler", children: parse(m[1]!, d + 1) }) },
  { pattern: /\*\*([\s\S]+?)\*\*/y, build: (m, d) => ({ kind: "bold", children: parse(m[1]!, d + 1) }) },
  { pattern: /\*([^*\s](?:[^*]*[^*\s])?)\*/y, build: (m, d) => ({ kind: "italic", children: parse(m[1]!, d + 1) }) },
  { pattern: /_([^_\s](?:[^_]*[^_\s])?)_(?![A-Za-z0-9])/y, build: (m, d) => ({ kind: "italic", children: parse(m[1]!, d + 1) }) },
  { pattern: /<@!?([0-9]{1,20})>/y, build: (m) => ({ kind: "mention", userId: m[1]! }) },
  { pattern: /<@&([0-9]{1,20})>/y, build: (m) => ({ kind: "role", roleId: m[1]! }) },
  {
    pattern: /https?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]]/y,
    build: (m) => ({ kind: "link", href: m[0], text: m[0] }),
  },
];

// Where any rule could start: everything in between is plain text.
const STARTS = /[`|*_<h]/g;

function pushText(out: MdNode[], text: string): void {
  if (!text) return;
  const last = out[out.length - 1];
  if (last?.kind === "text") last.text += text;
  else out.push({ kind: "text", text });
}

export function parse(source: string, depth = 0): MdNode[] {
  const out: MdNode[] = [];
  if (depth > MAX_DEPTH) {
    pushText(out, source);
    return out;
  }
  let i = 0;
  let textStart = 0;
  while (i < source.length) {
    STARTS.lastIndex = i;
    const next = STARTS.exec(source);
    if (!next) break;
    i = next.index;
    let matched = false;
    for (const rule of RULES) {
      rule.pattern.lastIndex = i;
      const m = rule.pattern.exec(source);
      if (!m) continue;
      pushText(out, source.slice(textStart, i));
      out.push(rule.build(m, depth));
      i += m[0].length;
      textStart = i;
      matched = true;
      break;
    }
    if (!matched) i += 1;
  }
  pushText(out, source.slice(textStart));
  return out;
}

/** Only http(s) links are ever made clickable (no javascript:, data: …). */
export function safeHref(href: string): string | null {
  try {
    const url = new URL(href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}
