// The OpenAI surface of the sidecar with real node-llama-cpp on the tiny model, through the
// official openai SDK: answers, streams, usage, stop, length, JSON schema, tools, errors.
import { readFile } from "node:fs/promises";
import { getLlama, resolveChatWrapper, type Llama, type LlamaModel } from "node-llama-cpp";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ChatCompletionRequestSchema } from "../../shared/openai.ts";
import { checkToolCalls, JsonAnswerError } from "../../sidecar/engine.ts";
import { GrammarCache } from "../../sidecar/grammars.ts";
import { toGrammarSchema } from "../../sidecar/json-schema.ts";
import { toGenerationPlan } from "../../sidecar/request.ts";
import type { Sidecar } from "../../sidecar/sidecar.ts";
import { client, createWorkspace, eventually, startTestSidecar, type Workspace } from "./harness.ts";

let workspace: Workspace;
let sidecar: Sidecar;
let openai: OpenAI;
// An independent node-llama-cpp instance on the same file, to count tokens the library's way.
let llama: Llama;
let model: LlamaModel;

beforeAll(async () => {
  workspace = await createWorkspace();
  sidecar = await startTestSidecar(workspace, { parallel: 2 });
  openai = client(sidecar, workspace.token);
  llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
  model = await llama.loadModel({ modelPath: workspace.modelPath });
});

afterAll(async () => {
  await sidecar?.close(1000);
  await llama?.dispose();
  await workspace?.cleanup();
});

const user = (content: string) => [{ role: "user" as const, content }];
const request = (extra: Record<string, unknown>) => ChatCompletionRequestSchema.parse({ model: "local", messages: user("A digit"), ...extra });
const digitSchema = { type: "object", properties: { n: { type: "integer", minimum: 0, maximum: 9 } }, required: ["n"], additionalProperties: false };
const digitTool: OpenAI.Chat.Completions.ChatCompletionTool = { type: "function", function: { name: "set_digit", parameters: digitSchema } };

describe("chat completions", () => {
  it("answers a JSON completion with usage equal to the tokenizer's count", async () => {
    const completion = await openai.chat.completions.create({
      model: "local",
      messages: [{ role: "system", content: "Be brief." }, ...user("Say hello")],
      max_tokens: 7,
      seed: 3,
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.id).toMatch(/^chatcmpl-/);
    const choice = completion.choices[0]!;
    expect(choice.message.role).toBe("assistant");
    expect(choice.finish_reason).toBe("length");
    expect(choice.message.content!.length).toBeGreaterThan(0);

    const rendered = resolveChatWrapper(model).generateContextState({
      chatHistory: [
        { type: "system", text: "Be brief." },
        { type: "user", text: "Say hello" },
        { type: "model", response: [] },
      ],
    });
    const promptTokens = rendered.contextText.tokenize(model.tokenizer).length;
    expect(completion.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: 7, total_tokens: promptTokens + 7 });
  });

  it("honours max_completion_tokens as well as max_tokens", async () => {
    const completion = await openai.chat.completions.create({ model: "local", messages: user("hi"), max_completion_tokens: 4, temperature: 0 });
    expect(completion.choices[0]!.finish_reason).toBe("length");
    expect(completion.usage!.completion_tokens).toBe(4);
  });

  it("streams chunks that the SDK parses, with one id, a role first and usage last", async () => {
    const stream = await openai.chat.completions.create({
      model: "local",
      messages: user("Tell me a story"),
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBe(12);
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + 12);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    const finish = chunks.at(-2)!.choices[0]!;
    expect(finish.finish_reason).toBe("length");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text.length).toBeGreaterThan(0);
  });

  it("sends no usage chunk to clients that did not ask for one", async () => {
    const stream = await openai.chat.completions.create({ model: "local", messages: user("hi"), max_tokens: 3, temperature: 0, stream: true });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.choices.length === 1 && !("usage" in c))).toBe(true);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("length");
  });

  it("cuts the answer at a stop string and reports finish_reason stop", async () => {
    // Greedy decoding is deterministic: learn the answer, then stop at a piece of it.
    const base = { model: "local", messages: user("Count"), temperature: 0, max_tokens: 40 };
    const full = (await openai.chat.completions.create(base)).choices[0]!.message.content!;
    expect(full.length).toBeGreaterThan(10);
    const stop = full.slice(6, 8);
    const cut = await openai.chat.completions.create({ ...base, stop: [stop] });
    expect(cut.choices[0]!.finish_reason).toBe("stop");
    expect(cut.choices[0]!.message.content).toBe(full.slice(0, full.indexOf(stop)));
    // Tokens generated up to and including the stop string are counted, even those cut from the text.
    expect(cut.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it("is reproducible for a seed at temperature 1", async () => {
    const request = { model: "local", messages: user("Surprise me"), max_tokens: 20, seed: 1234 };
    const a = await openai.chat.completions.create(request);
    const b = await openai.chat.completions.create(request);
    const c = await openai.chat.completions.create({ ...request, seed: 4321 });
    expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);
    expect(c.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
  });

  it("answers valid JSON of a json_schema response_format", async () => {
    const Answer = z.object({ ok: z.boolean(), count: z.int(), unit: z.enum(["kg", "lb"]) });
    for (const seed of [1, 2, 3]) {
      const completion = await openai.chat.completions.create({
        model: "local",
        messages: user("Weigh it"),
        seed,
        max_tokens: 200,
        response_format: { type: "json_schema", json_schema: { name: "weight", schema: z.toJSONSchema(Answer) } },
      });
      expect(completion.choices[0]!.finish_reason).toBe("stop");
      const parsed = Answer.safeParse(JSON.parse(completion.choices[0]!.message.content!));
      expect(parsed.success, completion.choices[0]!.message.content!).toBe(true);
    }
  });

  it("enforces anyOf (zod's nullable) and $ref into definitions", async () => {
    const Answer = z.object({ name: z.string().max(20), nickname: z.string().max(20).nullable(), size: z.enum(["s", "m"]) });
    const schema = { ...z.toJSONSchema(Answer), definitions: { tag: { type: "boolean" } } } as Record<string, unknown>;
    (schema.properties as Record<string, unknown>).tagged = { $ref: "#/definitions/tag" };
    (schema.required as string[]).push("tagged");
    for (const seed of [1, 2]) {
      const completion = await openai.chat.completions.create({
        model: "local",
        messages: user("Name it"),
        seed,
        max_tokens: 200,
        response_format: { type: "json_schema", json_schema: { name: "named", schema } },
      });
      expect(completion.choices[0]!.finish_reason).toBe("stop");
      const value = JSON.parse(completion.choices[0]!.message.content!);
      expect(Answer.safeParse(value).success, completion.choices[0]!.message.content!).toBe(true);
      expect(typeof value.tagged).toBe("boolean");
    }
  });

  it("refuses schema keywords neither the grammar nor the answer check can enforce with a 400 naming the schema", async () => {
    const refused = [
      { not: { type: "string" } },
      { type: "string", if: { minLength: 1 }, then: { maxLength: 3 } },
      { type: "object", dependentRequired: { a: ["b"] } },
      // allOf members that cannot be merged: the grammar would write less (or more) than the schema allows.
      { allOf: [{ type: "string", maxLength: 5 }, { type: "string", maxLength: 3 }] },
      { allOf: [{ $ref: "#/$defs/n" }, { type: "object", properties: { b: { type: "number" } } }] },
      // A keyword left for the answer check in a schema the check cannot read (zod refuses the regex).
      { type: "string", pattern: "(?<unclosed" },
    ];
    for (const property of refused) {
      const error = await openai.chat.completions
        .create({
          model: "local",
          messages: user("Count"),
          response_format: { type: "json_schema", json_schema: { name: "n", schema: { type: "object", properties: { n: property }, required: ["n"] } } },
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("response_format.json_schema.schema");
      expect((error as Error).message).toContain("properties.n");
    }
  });

  it("folds an allOf whose members agree into the grammar: composed objects, pydantic v1's allOf of one $ref", () => {
    const composed = { allOf: [{ type: "object", properties: { a: { type: "string" } }, required: ["a"] }, { type: "object", properties: { b: { type: "number" } }, required: ["b"] }] };
    expect(toGrammarSchema(composed, "p")).toEqual({ type: "object", properties: { a: { type: "string" }, b: { type: "number" } }, required: ["a", "b"] });
    const described = { type: "object", properties: { unit: { allOf: [{ $ref: "#/definitions/Unit" }], description: "the unit" } }, definitions: { Unit: { enum: ["kg", "lb"] } } };
    expect(toGrammarSchema(described, "p")).toEqual({ type: "object", properties: { unit: { $ref: "#/$defs/Unit", description: "the unit" } }, $defs: { Unit: { enum: ["kg", "lb"] } } });
  });

  it("takes a schema that names no type (pydantic's Any, a bare description) as any JSON value, not node-llama-cpp's null", async () => {
    for (const property of [{}, { description: "anything" }]) {
      const schema = { type: "object", properties: { n: property }, required: ["n"] };
      const plan = toGenerationPlan(request({ response_format: { type: "json_schema", json_schema: { name: "c", schema } } }));
      const constraint = (await new GrammarCache(llama).forFormat(plan.responseFormat))!;
      for (const value of ["1", '"s"', "null", '{"a":[1,{"b":true}]}', "[1,\"x\"]"]) expect(() => constraint.validate(`{"n":${value}}`), value).not.toThrow();
    }
  });

  // Formats beyond the date and time ones, uniqueItems, patternProperties and an allOf whose members
  // disagree are not in the grammar: the finished answer is held to them.
  it("checks what the grammar leaves out on the finished answer: formats, uniqueItems, patternProperties", async () => {
    const cases: Array<[unknown, string, string]> = [
      [{ type: "string", format: "email" }, '"a@b.co"', '"nope"'],
      [{ type: "string", format: "uri" }, '"https://example.com/x"', '"not a uri"'],
      [{ type: "array", items: { type: "number" }, uniqueItems: true }, "[1,2]", "[1,1]"],
      [{ type: "object", patternProperties: { "^x": { type: "number" } } }, '{"x1":1}', '{"x1":"s"}'],
    ];
    for (const [property, good, bad] of cases) {
      const schema = { type: "object", properties: { n: property }, required: ["n"] };
      const plan = toGenerationPlan(request({ response_format: { type: "json_schema", json_schema: { name: "c", schema } } }));
      const constraint = (await new GrammarCache(llama).forFormat(plan.responseFormat))!;
      expect(() => constraint.validate(`{"n":${good}}`), JSON.stringify(property)).not.toThrow();
      expect(() => constraint.validate(`{"n":${bad}}`), JSON.stringify(property)).toThrow(/n/);
    }
    // pydantic v1's spelling: references into `definitions` (which zod reads only as $defs).
    const v1 = { type: "object", properties: { n: { $ref: "#/definitions/Tags" } }, required: ["n"], definitions: { Tags: { type: "array", items: { type: "string", format: "email" }, uniqueItems: true } } };
    const plan = toGenerationPlan(request({ response_format: { type: "json_schema", json_schema: { name: "v1", schema: v1 } } }));
    const constraint = (await new GrammarCache(llama).forFormat(plan.responseFormat))!;
    expect(() => constraint.validate('{"n":["a@b.co"]}')).not.toThrow();
    expect(() => constraint.validate('{"n":["a@b.co","a@b.co"]}')).toThrow();
    expect(() => constraint.validate('{"n":["nope"]}')).toThrow();
    // A format nobody knows is the annotation JSON Schema says it is.
    expect(toGrammarSchema({ type: "string", format: "my-format" }, "p")).toEqual({ type: "string" });
  });

  // The answer check itself, with answers chosen by the test: the model's own answers may never
  // leave the bounds, so only this shows the check runs.
  it("checks a json_schema answer's numeric bounds, which the grammar cannot enforce", async () => {
    const plan = toGenerationPlan(request({ response_format: { type: "json_schema", json_schema: { name: "d", schema: digitSchema } } }));
    const constraint = (await new GrammarCache(llama).forFormat(plan.responseFormat))!;
    expect(() => constraint.validate('{"n":12}')).toThrow(/n/);
    expect(() => constraint.validate('{"n":-1}')).toThrow(/n/);
    expect(() => constraint.validate('{"n":3}')).not.toThrow();
  });

  it("smoke: a json_schema answer with bounds is in range or a 500 invalid_model_output, never an out-of-range 200", async () => {
    for (const seed of [1, 2, 3, 4]) {
      const result = await openai.chat.completions
        .create({ model: "local", messages: user("A digit"), seed, max_tokens: 100, response_format: { type: "json_schema", json_schema: { name: "d", schema: digitSchema } } })
        .catch((e: unknown) => e);
      if (result instanceof OpenAI.APIError) {
        expect(result.status).toBe(500);
        expect(result.code).toBe("invalid_model_output");
      } else {
        const n = JSON.parse((result as OpenAI.Chat.Completions.ChatCompletion).choices[0]!.message.content!).n;
        expect(n >= 0 && n <= 9, String(n)).toBe(true);
      }
    }
  });

  it("lets the client's stop string cut a json_schema answer, as OpenAI does, without a 500", async () => {
    const completion = await openai.chat.completions.create({
      model: "local",
      messages: user("Weigh it"),
      seed: 1,
      max_tokens: 200,
      stop: ['"'],
      response_format: { type: "json_schema", json_schema: { name: "w", schema: { type: "object", properties: { unit: { type: "string" } }, required: ["unit"] } } },
    });
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(completion.choices[0]!.message.content).toBe("{");
  });

  it("answers a JSON object for json_object", async () => {
    const completion = await openai.chat.completions.create({
      model: "local",
      messages: user("Some JSON please"),
      seed: 5,
      max_tokens: 400,
      response_format: { type: "json_object" },
    });
    if (completion.choices[0]!.finish_reason === "stop") {
      const value: unknown = JSON.parse(completion.choices[0]!.message.content!);
      expect(typeof value === "object" && value !== null && !Array.isArray(value)).toBe(true);
    } else {
      // Cut by max_tokens: still the start of a JSON object.
      expect(completion.choices[0]!.message.content!.trimStart().startsWith("{")).toBe(true);
    }
  });
});

describe("tools", () => {
  const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
    {
      type: "function",
      function: {
        name: "get_weather",
        description: "Weather for a number of days",
        parameters: { type: "object", properties: { days: { type: "integer" }, unit: { enum: ["c", "f"] } }, required: ["days", "unit"] },
      },
    },
    {
      type: "function",
      function: { name: "get_time", parameters: { type: "object", properties: { utc: { type: "boolean" } }, required: ["utc"] } },
    },
  ];

  it("returns a forced tool call as tool_calls without running it", async () => {
    const completion = await openai.chat.completions.create({
      model: "local",
      messages: user("Weather?"),
      tools,
      tool_choice: "required",
      max_tokens: 100,
      seed: 7,
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe("function");
    expect(call.id).toMatch(/^call_/);
    if (call.type !== "function") throw new Error("not a function call");
    expect(["get_weather", "get_time"]).toContain(call.function.name);
    expect(typeof JSON.parse(call.function.arguments)).toBe("object");
  });

  it("calls the function named by tool_choice, streamed with index, id and name in the first delta", async () => {
    const stream = await openai.chat.completions.create({
      model: "local",
      messages: user("What time is it?"),
      tools,
      tool_choice: { type: "function", function: { name: "get_time" } },
      max_tokens: 100,
      stream: true,
    });
    const deltas: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    let role: string | undefined;
    for await (const chunk of stream) {
      role ??= chunk.choices[0]?.delta.role;
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(role).toBe("assistant");
    expect(finish).toBe("tool_calls");
    expect(deltas[0]).toMatchObject({ index: 0, type: "function", function: { name: "get_time" } });
    expect(deltas[0]!.id).toMatch(/^call_/);
    expect(deltas.every((d) => d.index === 0)).toBe(true);
    const args = JSON.parse(deltas.map((d) => d.function?.arguments ?? "").join(""));
    expect(typeof args.utc).toBe("boolean");
  });

  it("streams a call to a tool that takes no parameters", async () => {
    const stream = await openai.chat.completions.create({
      model: "local",
      messages: user("Ping"),
      tools: [{ type: "function", function: { name: "ping", description: "No arguments" } }],
      tool_choice: "required",
      max_tokens: 50,
      stream: true,
    });
    const deltas: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe("tool_calls");
    expect(deltas[0]).toMatchObject({ index: 0, type: "function", function: { name: "ping" } });
    expect(deltas[0]!.id).toMatch(/^call_/);
    expect(JSON.parse(deltas.map((d) => d.function?.arguments ?? "").join(""))).toEqual({});
  });

  it("refuses tool parameters the grammar cannot enforce with a 400 naming the tool", async () => {
    const error = await openai.chat.completions
      .create({
        model: "local",
        messages: user("Weather?"),
        tools: [tools[0]!, { type: "function", function: { name: "bad", parameters: { type: "object", properties: { n: { not: { type: "string" } } } } } }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("tools[1].function.parameters");
  });

  it("accepts a string pattern in tool parameters (Claude Code's tools have one) and checks it on the finished call", async () => {
    const runId = { type: "function" as const, function: { name: "resume", parameters: { type: "object", properties: { id: { type: "string", pattern: "^wf_[a-z0-9-]{6,}$" } }, required: ["id"] } } };
    const completion = await openai.chat.completions.create({ model: "local", messages: user("Resume"), tools: [runId], max_tokens: 8 });
    expect(completion.choices[0]!.finish_reason).toMatch(/^(stop|length|tool_calls)$/);
    const plan = toGenerationPlan(request({ tools: [runId], tool_choice: "required" }));
    expect(() => checkToolCalls(plan, [{ functionName: "resume", params: { id: "nope" } }])).toThrow(/resume/);
    expect(() => checkToolCalls(plan, [{ functionName: "resume", params: { id: "wf_abc-123" } }])).not.toThrow();
  });

  it("checks a tool call's arguments against its parameters' bounds, as for response_format", () => {
    const plan = toGenerationPlan(request({ tools: [digitTool, tools[1]!], tool_choice: "required" }));
    expect(() => checkToolCalls(plan, [{ functionName: "set_digit", params: { n: 12 } }])).toThrow(JsonAnswerError);
    expect(() => checkToolCalls(plan, [{ functionName: "set_digit", params: { n: 12 } }])).toThrow(/set_digit/);
    expect(() => checkToolCalls(plan, [{ functionName: "get_time", params: { utc: true } }, { functionName: "set_digit", params: { n: 3 } }])).not.toThrow();
  });

  it("smoke: a forced call to a tool with bounds is in range or a 500 invalid_model_output, never an out-of-range 200", async () => {
    for (const seed of [1, 2, 3, 4]) {
      const result = await openai.chat.completions
        .create({ model: "local", messages: user("Pick a digit"), seed, max_tokens: 100, tools: [digitTool], tool_choice: "required" })
        .catch((e: unknown) => e);
      if (result instanceof OpenAI.APIError) {
        expect(result.status).toBe(500);
        expect(result.code).toBe("invalid_model_output");
      } else {
        const call = (result as OpenAI.Chat.Completions.ChatCompletion).choices[0]!.message.tool_calls![0]!;
        if (call.type !== "function") throw new Error("not a function call");
        const n = JSON.parse(call.function.arguments).n;
        expect(n >= 0 && n <= 9, String(n)).toBe(true);
      }
    }
  });

  it("smoke: a streamed call to a tool with bounds ends in range or with an invalid_model_output error event, never a clean finish", async () => {
    for (const seed of [1, 2, 3, 4]) {
      const stream = await openai.chat.completions.create({ model: "local", messages: user("Pick a digit"), seed, max_tokens: 100, tools: [digitTool], tool_choice: "required", stream: true });
      let args = "";
      let finish: string | null = null;
      const error = await (async () => {
        for await (const chunk of stream) {
          args += chunk.choices[0]?.delta.tool_calls?.map((d) => d.function?.arguments ?? "").join("") ?? "";
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
      })().catch((e: unknown) => e);
      if (error) {
        expect(error).toBeInstanceOf(OpenAI.APIError);
        expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("invalid_model_output");
        expect(finish).toBeNull();
      } else {
        expect(finish).toBe("tool_calls");
        const n = JSON.parse(args).n;
        expect(n >= 0 && n <= 9, String(n)).toBe(true);
      }
    }
  });

  it("accepts a conversation with a tool result and answers it", async () => {
    const completion = await openai.chat.completions.create({
      model: "local",
      max_tokens: 5,
      temperature: 0, // greedy: the tiny model never ends on its own, so the answer runs to max_tokens
      messages: [
        ...user("Weather?"),
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"days":1,"unit":"c"}' } }],
        },
        { role: "tool", tool_call_id: "call_1", content: "sunny" },
      ],
      tools,
    });
    expect(completion.choices[0]!.finish_reason).toBe("length");
    expect(completion.usage!.completion_tokens).toBe(5);
  });
});

describe("refusals", () => {
  const badRequest = async (body: Record<string, unknown>) => {
    const error = await openai.chat.completions.create(body as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    return error as InstanceType<typeof OpenAI.BadRequestError>;
  };

  it("answers 400 with param for unsupported parameters", async () => {
    expect((await badRequest({ model: "local", messages: user("hi"), n: 2 })).param).toBe("n");
    expect((await badRequest({ model: "local", messages: user("hi"), logprobs: true })).param).toBe("logprobs");
    const image = [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }];
    expect((await badRequest({ model: "local", messages: [{ role: "user", content: image }] })).param).toBe("messages[0].content[0]");
  });

  it("answers 400 with param for malformed requests", async () => {
    expect((await badRequest({ model: "local", messages: [{ role: "robot", content: "hi" }] })).param).toBe("messages[0].role");
    expect((await badRequest({ model: "local", messages: user("hi"), temperature: 5 })).param).toBe("temperature");
    const named = { type: "function", function: { name: "nope" } };
    expect((await badRequest({ model: "local", messages: user("hi"), tool_choice: named, tools: [] })).param).toBe("tool_choice");
    const raw = await fetch(`${sidecar.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${workspace.token}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ error: { type: "invalid_request_error", param: null, code: null } });
  });

  it("answers 400 context_length_exceeded for a prompt larger than the context", async () => {
    const error = await badRequest({ model: "local", messages: user("x".repeat(5000)) });
    expect(error.code).toBe("context_length_exceeded");
  });
});

describe("models, health and the operation log", () => {
  it("lists the model and reports health", async () => {
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["tiny"]);
    const response = await fetch(`${sidecar.url}/health`, { headers: { authorization: `Bearer ${workspace.token}` } });
    expect(await response.json()).toMatchObject({ status: "ok", model: "tiny", context_size: 4096, parallel: 2, busy: 0, queued: 0 });
  });

  it("logs one terminal event per infer_started, with token counts and never the prompt", async () => {
    const marker = "ZEBRA-PROMPT-MARKER";
    // Greedy (temperature 0): the tiny model then never ends before max_tokens, so the finish reason is "length".
    const completion = await openai.chat.completions.create({ model: "local", messages: user(marker), max_tokens: 6, temperature: 0 }).withResponse();
    const requestId = completion.response.headers.get("x-request-id")!;
    expect(requestId).toBeTruthy();
    // pino writes asynchronously: wait (bounded) for the terminal line.
    const events = await eventually(async () => {
      const all = await workspace.events();
      return all.some((e) => e.request_id === requestId && e.event === "infer_completed") && all;
    }, "the infer_completed line");
    const mine = events.filter((e) => e.request_id === requestId);
    expect(mine.map((e) => e.event)).toEqual(["infer_started", "infer_completed"]);
    expect(mine[1]).toMatchObject({ source: "sidecar", model: "tiny", status: 200, completion_tokens: 6, finish_reason: "length" });
    expect(mine[1]!.tokens_per_second).toBeGreaterThan(0);

    const started = events.filter((e) => e.event === "infer_started").map((e) => e.request_id);
    for (const id of started) {
      const terminal = events.filter((e) => e.request_id === id && ["infer_completed", "infer_failed", "infer_cancelled"].includes(e.event));
      expect(terminal, id).toHaveLength(1);
    }
    expect(await readFile(workspace.logFile, "utf8")).not.toContain(marker);
  });
});
