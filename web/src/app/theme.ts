export type Theme = "dark" | "light";

export function storedTheme(): Theme {
  return localStorage.getItem("harmoniq.theme") === "light" ? "light" : "dark";
}

export function applyTheme(theme: Theme): void {
  localStorage.setItem("harmoniq.theme", theme);
  document.documentElement.classList.toggle("light", theme === "light");
  document.documentElement.classList.toggle("dark", theme === "dark");
}
