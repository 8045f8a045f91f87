// The Responses translators on their own, in workerd: request -> chat request, chat completion ->
// response object, chat stream chunks -> Responses events.
import { describe, expect, it } from "vitest";
import { toChatRequest } from "../../edge/responses/request.ts";
import { fromChatCompletion } from "../../edge/responses/response.ts";
import { ResponsesTranslator } from "../../edge/responses/stream.ts";
import { ResponsesRequestSchema, type ResponsesRequest } from "../../shared/responses.ts";

const request = (extra: Record<string, unknown> = {}): ResponsesRequest => ResponsesRequestSchema.parse({ model: "default", input: "Hi", ...extra });

describe("Responses request -> chat request", () => {
  it("puts instructions first and a string input as the user's message", () => {
    const chat = toChatRequest(request({ instructions: "Be brief", max_output_tokens: 50, temperature: 0.2, top_p: 0.9 }));
    expect(chat).toEqual({
      model: "default",
      messages: [{ role: "system", content: "Be brief" }, { role: "user", content: "Hi" }],
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
    });
  });

  it("turns input items into messages: developer as system, parts, images, a tool round trip", () => {
    const chat = toChatRequest(request({
      input: [
        { role: "developer", content: "Use tools" },
        { type: "message", role: "user", content: [{ type: "input_text", text: "Weather in " }, { type: "input_text", text: "Paris?" }] },
        { role: "user", content: [{ type: "input_text", text: "and this" }, { type: "input_image", image_url: "https://img.test/a.png", detail: "low" }] },
        { type: "reasoning", id: "rs_1", summary: [] },
        { type: "message", role: "assistant", id: "msg_1", status: "completed", content: [{ type: "output_text", text: "Checking", annotations: [] }] },
        { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
        { type: "function_call", call_id: "call_2", name: "get_time", arguments: "{}" },
        { type: "function_call_output", call_id: "call_1", output: '{"temp":21}' },
        { type: "function_call_output", call_id: "call_2", output: [{ type: "input_text", text: "12:00" }] },
      ],
    }));
    expect(chat.messages).toEqual([
      { role: "system", content: "Use tools" },
      { role: "user", content: "Weather in Paris?" },
      { role: "user", content: [{ type: "text", text: "and this" }, { type: "image_url", image_url: { url: "https://img.test/a.png", detail: "low" } }] },
      {
        role: "assistant",
        content: "Checking",
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
          { id: "call_2", type: "function", function: { name: "get_time", arguments: "{}" } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"temp":21}' },
      { role: "tool", tool_call_id: "call_2", content: "12:00" },
    ]);
  });

  it("maps function tools, tool_choice, text.format, reasoning.effort and streaming", () => {
    const schema = { type: "object", properties: { a: { type: "string" } }, required: ["a"] };
    const chat = toChatRequest(request({
      tools: [{ type: "function", name: "f", description: "does f", parameters: schema, strict: true }],
      tool_choice: { type: "function", name: "f" },
      parallel_tool_calls: false,
      text: { format: { type: "json_schema", name: "out", schema, strict: true } },
      reasoning: { effort: "low" },
      stream: true,
    }));
    expect(chat.tools).toEqual([{ type: "function", function: { name: "f", description: "does f", parameters: schema, strict: true } }]);
    expect(chat.tool_choice).toEqual({ type: "function", function: { name: "f" } });
    expect(chat.parallel_tool_calls).toBe(false);
    expect(chat.response_format).toEqual({ type: "json_schema", json_schema: { name: "out", schema, strict: true } });
    expect(chat.reasoning_effort).toBe("low");
    expect(chat.stream).toBe(true);
    expect(chat.stream_options).toEqual({ include_usage: true });
    expect(toChatRequest(request({ text: { format: { type: "json_object" } } })).response_format).toEqual({ type: "json_object" });
  });

  it("passes on chat fields and drops what chat completions do not know", () => {
    const chat = toChatRequest(request({ seed: 7, user: "u1", store: true, metadata: { a: "b" }, truncation: "auto", include: ["x"] }));
    expect(chat).toMatchObject({ seed: 7, user: "u1" });
    for (const dropped of ["store", "metadata", "truncation", "include", "input", "instructions"]) expect(chat).not.toHaveProperty(dropped);
  });

  it("asks for logprobs when top_logprobs is given (Responses has no separate flag) and hands them back", () => {
    expect(toChatRequest(request({ top_logprobs: 2 }))).toMatchObject({ top_logprobs: 2, logprobs: true });
    expect(toChatRequest(request())).not.toHaveProperty("logprobs");
    const logprobs = { content: [{ token: "Hi", logprob: -0.1, bytes: [72, 105], top_logprobs: [{ token: "Hi", logprob: -0.1, bytes: [72, 105] }, { token: "Yo", logprob: -2, bytes: null }] }] };
    const expected = [{ token: "Hi", logprob: -0.1, bytes: [72, 105], top_logprobs: [{ token: "Hi", logprob: -0.1, bytes: [72, 105] }, { token: "Yo", logprob: -2, bytes: [] }] }];
    const response = fromChatCompletion(request({ top_logprobs: 2 }), { choices: [{ finish_reason: "stop", logprobs, message: { content: "Hi" } }] });
    expect(response.output[0]).toMatchObject({ content: [{ text: "Hi", logprobs: expected }] });
    const frames: string[] = [];
    const t = new ResponsesTranslator(request({ stream: true, top_logprobs: 2 }), (frame) => frames.push(frame));
    t.start();
    t.chunk(JSON.stringify({ choices: [{ index: 0, delta: { content: "Hi" }, logprobs, finish_reason: "stop" }] }));
    t.end();
    const events = frames.map((frame) => JSON.parse(frame.split("\n")[1]!.slice("data: ".length)) as Record<string, any>);
    expect(events.find((e) => e.type === "response.output_text.delta")!.logprobs).toEqual(expected);
    expect(events.find((e) => e.type === "response.output_text.done")!.logprobs).toEqual(expected);
    expect(events.at(-1)!.response.output[0].content[0].logprobs).toEqual(expected);
  });

  it("refuses what needs server state or built-in tools, naming the param", () => {
    const issue = (extra: Record<string, unknown>) => ResponsesRequestSchema.safeParse({ model: "m", input: "x", ...extra }).error?.issues[0];
    expect(issue({ previous_response_id: "resp_1" })).toMatchObject({ path: ["previous_response_id"], message: expect.stringContaining("stateless") });
    expect(issue({ background: true })).toMatchObject({ path: ["background"] });
    expect(issue({ tools: [{ type: "web_search" }] })).toMatchObject({ path: ["tools", 0, "type"], message: expect.stringContaining("web_search") });
    expect(issue({ input: [{ type: "item_reference", id: "msg_1" }] })).toMatchObject({ path: ["input", 0, "type"], message: expect.stringContaining('"item_reference" is not supported') });
    expect(issue({ previous_response_id: null, background: false, store: true })).toBeUndefined();
  });

  it("names the unsupported content part, role or tool output part and says what is unsupported", () => {
    const issue = (input: unknown[]) => ResponsesRequestSchema.safeParse({ model: "m", input }).error?.issues[0];
    const text = { type: "input_text", text: "look" };
    expect(issue([{ role: "user", content: [text, { type: "input_file", file_id: "file_1" }] }])).toMatchObject({ path: ["input", 0, "content", 1], message: expect.stringMatching(/^input_file parts are not supported/) });
    expect(issue([{ role: "user", content: [text, { type: "input_audio", input_audio: { data: "", format: "wav" } }] }])).toMatchObject({ path: ["input", 0, "content", 1], message: expect.stringMatching(/^input_audio parts are not supported/) });
    expect(issue([{ role: "user", content: [{ type: "input_image", file_id: "file_1" }] }])).toMatchObject({ path: ["input", 0, "content", 0, "image_url"], message: expect.stringContaining("file_id") });
    expect(issue([{ role: "user", content: [{ type: "input_video" }] }])).toMatchObject({ path: ["input", 0, "content", 0, "type"], message: expect.stringContaining('"input_video" is not supported') });
    expect(issue([{ role: "user", content: "hi" }, { role: "tool", content: "42" }])).toMatchObject({ path: ["input", 1, "role"], message: expect.stringMatching(/^role "tool" is not supported: .*function_call_output/) });
    expect(issue([{ content: "hi" }])).toMatchObject({ path: ["input", 0, "role"], message: expect.stringMatching(/^role is required/) });
    const output = (parts: unknown[]) => issue([{ type: "function_call_output", call_id: "call_1", output: parts }]);
    expect(output([text, { type: "input_image", image_url: "https://img.test/a.png" }])).toMatchObject({ path: ["input", 0, "output", 1], message: expect.stringMatching(/^input_image parts are not supported in function_call_output/) });
    expect(output([{ type: "input_file", file_id: "f" }])).toMatchObject({ path: ["input", 0, "output", 0] });
    const joined = toChatRequest(request({ input: [{ type: "function_call_output", call_id: "call_1", output: [{ type: "input_text", text: "a" }, { type: "input_text", text: "b" }] }] }));
    expect(joined.messages).toEqual([{ role: "tool", tool_call_id: "call_1", content: "ab" }]);
  });
});

describe("chat completion -> response object", () => {
  const completion = (message: Record<string, unknown>, finish_reason = "stop") => ({
    choices: [{ index: 0, message: { role: "assistant", content: null, ...message }, finish_reason }],
    usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10, prompt_tokens_details: { cached_tokens: 2 } },
  });

  it("has every always-present field, a message item with output_text, and usage", () => {
    const response = fromChatCompletion(request({ instructions: "Be brief", metadata: { k: "v" } }), completion({ content: "Hello" }));
    expect(response).toMatchObject({
      object: "response",
      status: "completed",
      error: null,
      incomplete_details: null,
      instructions: "Be brief",
      metadata: { k: "v" },
      model: "default",
      output_text: "Hello",
      parallel_tool_calls: true,
      temperature: null,
      top_p: null,
      tool_choice: "auto",
      tools: [],
      usage: { input_tokens: 7, input_tokens_details: { cached_tokens: 2, cache_write_tokens: 0 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 10 },
    });
    expect(response.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(typeof response.created_at).toBe("number");
    expect(response.output).toEqual([
      { id: expect.stringMatching(/^msg_/), type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "Hello", annotations: [], logprobs: [] }] },
    ]);
  });

  it("turns tool calls into function_call items and reasoning into a reasoning item", () => {
    const response = fromChatCompletion(request(), completion({ reasoning_content: "think", tool_calls: [{ id: "call_9", type: "function", function: { name: "f", arguments: '{"a":1}' } }] }, "tool_calls"));
    expect(response.output.map((item) => item.type)).toEqual(["reasoning", "function_call"]);
    expect(response.output[0]).toMatchObject({ content: [{ type: "reasoning_text", text: "think" }] });
    expect(response.output[1]).toMatchObject({ type: "function_call", call_id: "call_9", name: "f", arguments: '{"a":1}', status: "completed" });
  });

  it("is incomplete, with the reason, when the provider stopped for length", () => {
    const response = fromChatCompletion(request(), completion({ content: "Hel" }, "length"));
    expect(response).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, completed_at: null });
    expect(response.output[0]).toMatchObject({ status: "incomplete" });
  });
});

describe("chat stream -> Responses events", () => {
  const delta = (d: Record<string, unknown>, finish_reason: string | null = null) => JSON.stringify({ choices: [{ index: 0, delta: d, finish_reason }] });
  const usage = JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } });

  function translator() {
    const frames: string[] = [];
    const t = new ResponsesTranslator(request({ stream: true }), (frame) => frames.push(frame));
    const events = () =>
      frames.map((frame) => {
        const [eventLine, dataLine] = frame.split("\n");
        const data = JSON.parse(dataLine!.slice("data: ".length)) as Record<string, any>;
        expect(eventLine).toBe(`event: ${data.type}`);
        return data;
      });
    return { t, frames, events };
  }

  it("sends the documented sequence for a text answer, each event as soon as its chunk is read", () => {
    const { t, frames, events } = translator();
    t.start();
    expect(events().map((e) => e.type)).toEqual(["response.created", "response.in_progress"]);
    t.chunk(delta({ role: "assistant", content: "" }));
    t.chunk(delta({ content: "Hel" }));
    const afterFirst = frames.length;
    expect(events().at(-1)).toMatchObject({ type: "response.output_text.delta", delta: "Hel", output_index: 0, content_index: 0 });
    t.chunk(delta({ content: "lo" }));
    expect(frames.length).toBe(afterFirst + 1);
    t.chunk(delta({}, "stop"));
    t.chunk(usage);
    t.chunk("[DONE]");
    t.end();
    const all = events();
    expect(all.map((e) => e.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect(all[6]).toMatchObject({ text: "Hello" });
    const completed = all.at(-1)!.response;
    expect(completed).toMatchObject({ status: "completed", output_text: "Hello", usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 } });
    expect(completed.id).toBe(all[0]!.response.id);
    expect(completed.output[0]).toMatchObject({ type: "message", status: "completed", content: [{ type: "output_text", text: "Hello" }] });
  });

  it("streams function calls as function_call items with argument deltas", () => {
    const { t, events } = translator();
    t.start();
    t.chunk(delta({ role: "assistant", tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] }));
    t.chunk(delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }));
    t.chunk(delta({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }));
    t.chunk(delta({}, "tool_calls"));
    t.end();
    const all = events();
    expect(all.map((e) => e.type).slice(2)).toEqual([
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(all[2]!.item).toMatchObject({ type: "function_call", call_id: "call_1", name: "get_weather", arguments: "", status: "in_progress" });
    expect(all[5]).toMatchObject({ arguments: '{"city":"Paris"}' });
    expect(all.at(-1)!.response.output[0]).toMatchObject({ call_id: "call_1", arguments: '{"city":"Paris"}', status: "completed" });
  });

  it("turns reasoning deltas into response.reasoning_text.delta events before the answer", () => {
    const { t, events } = translator();
    t.start();
    t.chunk(delta({ reasoning_content: "hmm" }));
    t.chunk(delta({ content: "ok" }, "stop"));
    t.end();
    const types = events().map((e) => e.type);
    expect(types).toContain("response.reasoning_text.delta");
    expect(types.indexOf("response.reasoning_text.done")).toBeLessThan(types.indexOf("response.output_text.delta"));
    expect(events().at(-1)!.response.output.map((i: { type: string }) => i.type)).toEqual(["reasoning", "message"]);
  });

  it("ends with response.failed and an error event when the chat stream reports an error", () => {
    const { t, events } = translator();
    t.start();
    t.chunk(delta({ content: "Hel" }));
    t.chunk(JSON.stringify({ error: { message: "Stream interrupted: reset", type: "server_error", code: "stream_interrupted", param: null } }));
    t.end();
    const all = events();
    expect(all.map((e) => e.type).slice(-2)).toEqual(["response.failed", "error"]);
    expect(all.map((e) => e.type)).not.toContain("response.completed");
    expect(all.at(-2)!.response).toMatchObject({ status: "failed", error: { code: "server_error", message: "Stream interrupted: reset" } });
    expect(all.at(-1)).toMatchObject({ code: "stream_interrupted", message: "Stream interrupted: reset", param: null });
  });

  it("keeps the text streamed so far in response.failed, the open item incomplete", () => {
    const { t, events } = translator();
    t.start();
    t.chunk(delta({ reasoning_content: "hmm" }));
    t.chunk(delta({ content: "Hel" }));
    t.chunk(delta({ content: "lo" }));
    t.chunk(JSON.stringify({ error: { message: "Stream interrupted: reset", code: "stream_interrupted" } }));
    t.end();
    const failed = events().at(-2)!.response;
    expect(failed).toMatchObject({ status: "failed", output_text: "Hello" });
    expect(failed.output).toMatchObject([
      { type: "reasoning", status: "completed", content: [{ type: "reasoning_text", text: "hmm" }] },
      { type: "message", status: "incomplete", content: [{ type: "output_text", text: "Hello" }] },
    ]);
  });

  it("fails a stream that ends with neither a finish_reason nor [DONE], and completes one that ends with [DONE] after content", () => {
    const cut = translator();
    cut.t.start();
    cut.t.chunk(delta({ content: "Hel" }));
    cut.t.end();
    expect(cut.events().map((e) => e.type).slice(-2)).toEqual(["response.failed", "error"]);

    // What the relay (and so the log and /v1/chat/completions) count as complete.
    const done = translator();
    done.t.start();
    done.t.chunk(delta({ content: "Hello" }));
    done.t.chunk("[DONE]");
    done.t.end();
    const all = done.events();
    expect(all.map((e) => e.type)).not.toContain("response.failed");
    expect(all.at(-1)).toMatchObject({ type: "response.completed", response: { status: "completed", output_text: "Hello", incomplete_details: null } });
    expect(all.at(-1)!.response.output[0]).toMatchObject({ status: "completed" });
  });

  it("marks the items incomplete after a length stop, in output_item.done and the final response, as the JSON answer does", () => {
    const long = translator();
    long.t.start();
    long.t.chunk(delta({ content: "Hel" }, "length"));
    long.t.end();
    const all = long.events();
    expect(all.at(-1)).toMatchObject({ type: "response.incomplete", response: { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } } });
    expect(all.find((e) => e.type === "response.output_item.done")!.item).toMatchObject({ type: "message", status: "incomplete" });
    expect(all.at(-1)!.response.output).toMatchObject([{ type: "message", status: "incomplete", content: [{ text: "Hel" }] }]);

    const call = translator();
    call.t.start();
    call.t.chunk(delta({ tool_calls: [{ index: 0, id: "call_1", function: { name: "f", arguments: '{"a":' } }] }, "length"));
    call.t.end();
    expect(call.events().find((e) => e.type === "response.output_item.done")!.item).toMatchObject({ type: "function_call", status: "incomplete" });
    const json = fromChatCompletion(request(), { choices: [{ finish_reason: "length", message: { tool_calls: [{ id: "call_1", function: { name: "f", arguments: '{"a":' } }] } }] });
    expect(json.output).toMatchObject([{ type: "function_call", status: "incomplete" }]);
  });
});
