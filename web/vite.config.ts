/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `make web-dev`: Vite's dev server with hot reload, proxying the API and the gateway to the
// running fleet's nginx (HARMONIQ_API_URL, default make dev's http://127.0.0.1:8080).
const api = process.env.HARMONIQ_API_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: {
      "/api": { target: api, changeOrigin: true },
      "/gateway": { target: api.replace(/^http/, "ws"), ws: true, changeOrigin: true },
    },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    environment: "node",
  },
});
