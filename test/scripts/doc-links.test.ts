// Every relative link in README.md, docs/ and bench/README.md resolves: the file exists and, for
// a #fragment, the target has a heading with that anchor (GitHub's slugs).
import { existsSync, globSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
const pages = ["README.md", "bench/README.md", ...globSync("docs/**/*.md", { cwd: root })];

/** The text links are read from: fenced blocks and code spans hold examples, not links. */
const prose = (markdown: string) => markdown.replace(/^( *)```[\s\S]*?^\1```/gm, "").replace(/`[^`\n]*`/g, "");

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of markdown.replace(/^( *)```[\s\S]*?^\1```/gm, "").matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const slug = heading!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count ? `${slug}-${count}` : slug);
  }
  return result;
}

function links(file: string): { target: string; path: string; fragment?: string }[] {
  const text = prose(readFileSync(join(root, file), "utf8"));
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?: "[^"]*")?\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
    .map((target) => {
      const [path, fragment] = target.split("#") as [string, string | undefined];
      return { target, path: path ? normalize(join(dirname(file), decodeURI(path))) : file, fragment };
    });
}

describe("links in the docs", () => {
  it("finds the pages and their links", () => {
    expect(pages.length).toBeGreaterThanOrEqual(14);
    expect(links("README.md").length).toBeGreaterThanOrEqual(20);
  });

  it.each(pages)("every relative link in %s resolves", (file) => {
    for (const { target, path, fragment } of links(file)) {
      expect(existsSync(join(root, path)), `${file}: ${target} (${relative(".", path)} does not exist)`).toBe(true);
      if (fragment === undefined) continue;
      expect(path, `${file}: ${target} has an anchor into a file that is not markdown`).toMatch(/\.md$/);
      expect(anchors(readFileSync(join(root, path), "utf8")), `${file}: ${target} (no heading #${fragment} in ${path})`).toContain(fragment);
    }
  });

  it("slugs headings as GitHub does", () => {
    const headings = "# A b\n## `POST /v1/responses`\n## Streams that go wrong (`npm run bench:streams`)\n## A b\n```md\n# not a heading\n```\n";
    expect([...anchors(headings)]).toEqual(["a-b", "post-v1responses", "streams-that-go-wrong-npm-run-benchstreams", "a-b-1"]);
  });
});
