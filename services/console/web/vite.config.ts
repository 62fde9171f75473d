import { defineConfig } from "vite";

// Built into ../dist, which is committed and compiled into repatd. The
// module-preload polyfill is left out: it is an inline script, and the
// content security policy allows none (every browser the console supports
// preloads modules natively).
export default defineConfig({
  base: "/",
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
});
