import { describe, expect, it } from "vitest";
import { parse, safeHref } from "./markdown";

describe("message markdown", () => {
  it("parses bold, italics, code, spoilers and links", () => {
    expect(parse("**hi** *there* `x<y` ||secret|| https://example.com/a?b=1.")).toEqual([
      { kind: "bold", children: [{ kind: "text", text: "hi" }] },
      { kind: "text", text: " " },
      { kind: "italic", children: [{ kind: "text", text: "there" }] },
      { kind: "text", text: " " },
      { kind: "code", text: "x<y" },
      { kind: "text", text: " " },
      { kind: "spoiler", children: [{ kind: "text", text: "secret" }] },
      { kind: "text", text: " " },
      { kind: "link", href: "https://example.com/a?b=1", text: "https://example.com/a?b=1" },
      { kind: "text", text: "." },
    ]);
  });

  it("keeps hostile markup as plain text: no node can carry HTML", () => {
    const hostile = '<img src=x onerror=alert(1)><script>alert(1)</script><a href="javascript:alert(1)">x</a>';
    const nodes = parse(hostile);
    const text = JSON.stringify(nodes);
    expect(nodes.every((n) => n.kind === "text")).toBe(true);
    expect(text).toContain("<script>");
  });

  it("only links http and https", () => {
    expect(parse("javascript:alert(1)")).toEqual([{ kind: "text", text: "javascript:alert(1)" }]);
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("data:text/html,x")).toBeNull();
    expect(safeHref("https://example.com/")).toBe("https://example.com/");
  });

  it("parses mentions and leaves snake_case words alone", () => {
    expect(parse("hi <@123> and <@&456> in snake_case_name")).toEqual([
      { kind: "text", text: "hi " },
      { kind: "mention", userId: "123" },
      { kind: "text", text: " and " },
      { kind: "role", roleId: "456" },
      { kind: "text", text: " in snake_case_name" },
    ]);
  });

  it("code is literal: no markdown inside", () => {
    expect(parse("`**not bold**`")).toEqual([{ kind: "code", text: "**not bold**" }]);
    expect(parse("```\n**x**\n```")).toEqual([{ kind: "codeblock", text: "**x**\n" }]);
  });

  it("nesting is bounded", () => {
    const deep = "**".repeat(50) + "x" + "**".repeat(50);
    expect(() => parse(deep)).not.toThrow();
    expect(() => parse("||".repeat(5000))).not.toThrow();
  });
});
