import type { Config } from "tailwindcss";

// Colours are CSS variables (src/index.css) so that the dark theme (default) and the light one
// switch with one class on <html>.
export default {
  content: ["./index.html", "./src/**/*.{ts,tsx}"],
  darkMode: "class",
  theme: {
    extend: {
      colors: {
        bg: "rgb(var(--bg) / <alpha-value>)",
        panel: "rgb(var(--panel) / <alpha-value>)",
        rail: "rgb(var(--rail) / <alpha-value>)",
        fg: "rgb(var(--fg) / <alpha-value>)",
        muted: "rgb(var(--muted) / <alpha-value>)",
        accent: "rgb(var(--accent) / <alpha-value>)",
        link: "rgb(var(--link) / <alpha-value>)",
        danger: "rgb(var(--danger) / <alpha-value>)",
        hover: "rgb(var(--hover) / <alpha-value>)",
      },
    },
  },
  plugins: [],
} satisfies Config;
