// What the browser tests share: Debian's chromium (never a downloaded build), where screenshots go,
// the page errors and CSP / Trusted Types violations a test must see none of, and a history chart's
// legend as hovering shows it.
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

/** Hovers a history chart's last period (the current hour) and reads its legend: series label → value. */
export async function hoverLast(page: Page, chartId: string): Promise<Record<string, string>> {
  const over = page.locator(`#${chartId} .u-over`);
  await over.scrollIntoViewIfNeeded();
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
  const rows = page.locator(`#${chartId} .u-legend .u-series`);
  const out: Record<string, string> = {};
  for (let i = 0; i < (await rows.count()); i++) {
    out[(await rows.nth(i).locator(".u-label").textContent())!] = (await rows.nth(i).locator(".u-value").textContent())!;
  }
  return out;
}
