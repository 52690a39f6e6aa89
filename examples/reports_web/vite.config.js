import { defineConfig } from "vite";

// Served by the example backend under /app/ (examples/reports_app), which also forwards
// /atlas/* to the Atlas API and answers /session and /reports/*. `npm run dev` proxies those
// to the backend on :8080.
const backend = process.env.REPORTS_BACKEND ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/app/",
  resolve: {
    // atlas-widgets is linked from web/atlas-widgets, which has a React of its own for its
    // tests: the page must use one React.
    dedupe: ["react", "react-dom"],
  },
  server: {
    proxy: Object.fromEntries(["/atlas", "/session", "/reports", "/advisor"].map((p) => [p, backend])),
  },
});
