// What the browser tests share: Debian's chromium (never a downloaded build), where screenshots go,
// and the page errors and CSP / Trusted Types violations a test must see none of.
import { existsSync, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { Page } from "playwright-core";

const root = new URL("../../", import.meta.url).pathname;

/** Debian's chromium on PATH (.ci/run installs it); the tests never download a browser. */
export function chromiumPath(): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "chromium");
    if (existsSync(candidate)) return candidate;
  }
  throw new Error("chromium is not installed: apt-get install -y chromium (.ci/run does this when it is missing)");
}

/**
 * Where a screenshot goes: .tmp/screenshots/ on every run, so a test run leaves the tree as it was;
 * docs/ (what the docs show) when UPDATE_SCREENSHOTS=1.
 */
export function screenshotPath(name: string): string {
  const dir = join(root, process.env.UPDATE_SCREENSHOTS === "1" ? "docs" : ".tmp/screenshots");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** Collects the page's script errors and CSP / Trusted Types violations into `problems`. */
export function watchProblems(page: Page, problems: string[]): void {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (/Content Security Policy|Trusted Type/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
}
