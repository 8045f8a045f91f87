// Restores lock-file entries for other platforms' optional binaries (workerd, node-llama-cpp).
// The registry mirror this project is built behind serves only linux packages, so `npm install`
// leaves those entries out and `npm ci` then refuses the lock as out of sync. An optional entry
// with its os/cpu lets npm ci skip it on a mismatching platform, as a normal lock would.
// Run after `npm install` changes the lock: `node scripts/lock-platforms.ts`.
import { readFileSync, writeFileSync } from "node:fs";

type LockEntry = { version?: string; optionalDependencies?: Record<string, string>; [key: string]: unknown };
const lockPath = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, "utf8")) as { packages: Record<string, LockEntry> };

const PLATFORM_HINTS: Array<[RegExp, { os: string; cpu: string }]> = [
  [/darwin-arm64|mac-arm64/, { os: "darwin", cpu: "arm64" }],
  [/darwin-64|mac-x64/, { os: "darwin", cpu: "x64" }],
  [/windows-64|win-x64/, { os: "win32", cpu: "x64" }],
  [/win-arm64/, { os: "win32", cpu: "arm64" }],
  [/linux-riscv64/, { os: "linux", cpu: "riscv64" }],
];

/** Where npm would look for `name` from the package at `from`: nested first, then each parent. */
function resolves(from: string, name: string, version: string): boolean {
  let dir = from;
  for (;;) {
    const found = lock.packages[`${dir ? `${dir}/` : ""}node_modules/${name}`];
    if (found) return found.version === version;
    if (!dir) return false;
    const cut = dir.lastIndexOf("/node_modules/");
    dir = cut < 0 ? "" : dir.slice(0, cut);
  }
}

let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    if (resolves(path, name, spec)) continue;
    const hint = PLATFORM_HINTS.find(([pattern]) => pattern.test(name))?.[1];
    if (!hint) continue;
    const target = lock.packages[`node_modules/${name}`] ? `${path}/node_modules/${name}` : `node_modules/${name}`;
    lock.packages[target] = { version: spec, optional: true, os: [hint.os], cpu: [hint.cpu] };
    added++;
  }
}
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-platforms: added ${added} optional platform entries`);
