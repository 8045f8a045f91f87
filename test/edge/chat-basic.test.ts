import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario, sseData } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();

describe("chat completions: success", () => {
  it("answers a JSON request from the first provider with its headers and usage", async () => {
    const a = await scenario();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl) }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("a");
    expect(res.headers.get("x-inferrouter-attempts")).toBe("1");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }>; usage: { total_tokens: number } };
    expect(body.choices[0]!.message.content).toBe(`Hello from ${a.id}`);
    expect(body.usage.total_tokens).toBe(10);
    const [upstream] = await a.calls();
    expect(upstream!.body.model).toBe("upstream-model");
    expect(upstream!.headers.authorization).toBe("Bearer sk-upstream-secret-123456");
    const completed = logs.events().find((e) => e.event === "infer_completed");
    expect(completed).toMatchObject({ provider: "a", status: 200, total_tokens: 10, attempts: 1, route: "default" });
  });

  it("streams an answer through unchanged", async () => {
    const a = await scenario();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const data = await sseData(res);
    expect(data.at(-1)).toBe("[DONE]");
    const text = data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe(`Hello from ${a.id}`);
  });
});
