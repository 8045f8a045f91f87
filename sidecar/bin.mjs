#!/usr/bin/env node
// The `inferrouter-sidecar` bin: Node >= 22.18 / 24 runs the TypeScript entry directly
// (type stripping), so no build step is needed.
await import("./main.ts");
