import { useMemo, useState, type ReactNode } from "react";
import { parse, safeHref, type MdNode } from "../markdown";

function Spoiler({ children }: { children: ReactNode }) {
  const [shown, setShown] = useState(false);
  return (
    <span
      role="button"
      tabIndex={0}
      aria-pressed={shown}
      aria-label={shown ? undefined : "Spoiler, press to reveal"}
      data-shown={shown}
      className="spoiler px-0.5"
      onClick={() => setShown(true)}
      onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && setShown(true)}
    >
      {children}
    </span>
  );
}

function render(nodes: MdNode[], names: (id: string) => string, roles: (id: string) => string): ReactNode[] {
  return nodes.map((node, i) => {
    switch (node.kind) {
      case "text":
        return node.text;
      case "bold":
        return <strong key={i}>{render(node.children, names, roles)}</strong>;
      case "italic":
        return <em key={i}>{render(node.children, names, roles)}</em>;
      case "spoiler":
        return <Spoiler key={i}>{render(node.children, names, roles)}</Spoiler>;
      case "code":
        return (
          <code key={i} className="rounded bg-rail px-1 font-mono text-[0.9em]">
            {node.text}
          </code>
        );
      case "codeblock":
        return (
          <pre key={i} className="my-1 overflow-x-auto rounded bg-rail p-2 font-mono text-sm">
            <code>{node.text}</code>
          </pre>
        );
      case "link": {
        const href = safeHref(node.href);
        return href ? (
          <a key={i} href={href} target="_blank" rel="noopener noreferrer nofollow" className="text-link underline">
            {node.text}
          </a>
        ) : (
          node.text
        );
      }
      case "mention":
        return (
          <span key={i} className="rounded bg-accent/30 px-0.5">
            @{names(node.userId)}
          </span>
        );
      case "role":
        return (
          <span key={i} className="rounded bg-accent/30 px-0.5">
            @{roles(node.roleId)}
          </span>
        );
    }
  });
}

export function Markdown({ text, names, roles }: { text: string; names: (id: string) => string; roles: (id: string) => string }) {
  const nodes = useMemo(() => parse(text), [text]);
  return <>{render(nodes, names, roles)}</>;
}
