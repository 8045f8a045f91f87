// Engine results in the OpenAI wire shapes: one chat.completion, or the chunks of a stream that all
// share the completion's id.
import { randomBytes } from "node:crypto";
import type { ChatCompletion, ChatCompletionChunk, ToolCallDelta, Usage } from "../shared/openai.ts";
import type { EngineFinishReason, GenerationResult } from "./engine.ts";

type Delta = ChatCompletionChunk["choices"][number]["delta"];

export class CompletionShape {
  readonly id = `chatcmpl-${randomBytes(12).toString("base64url")}`;
  readonly created = Math.floor(Date.now() / 1000);
  private readonly model: string;
  /** With stream_options.include_usage every chunk carries `usage` (null until the last one). */
  private readonly includeUsage: boolean;

  constructor(model: string, includeUsage = false) {
    this.model = model;
    this.includeUsage = includeUsage;
  }

  completion(result: GenerationResult): ChatCompletion {
    const toolCalls = result.toolCalls.map((call) => ({
      id: call.id,
      type: "function" as const,
      function: { name: call.name, arguments: call.arguments },
    }));
    return {
      id: this.id,
      object: "chat.completion",
      created: this.created,
      model: this.model,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: toolCalls.length > 0 && result.content === "" ? null : result.content,
            refusal: null,
            ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          },
          logprobs: null,
          finish_reason: result.finishReason,
        },
      ],
      usage: result.usage,
    };
  }

  private chunk(choices: ChatCompletionChunk["choices"], usage: Usage | null = null): ChatCompletionChunk {
    return {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
      choices,
      ...(this.includeUsage ? { usage } : {}),
    };
  }

  delta(delta: Delta, finishReason: EngineFinishReason | null = null): ChatCompletionChunk {
    return this.chunk([{ index: 0, delta, logprobs: null, finish_reason: finishReason }]);
  }

  /** The first chunk: LangChain and others need `role` before they accept tool-call deltas. */
  roleChunk(): ChatCompletionChunk {
    return this.delta({ role: "assistant", content: "" });
  }

  toolCallDelta(call: ToolCallDelta): ChatCompletionChunk {
    return this.delta({ tool_calls: [call] });
  }

  /** Only for clients that asked (stream_options.include_usage): some crash on an empty choices list. */
  usageChunk(usage: Usage): ChatCompletionChunk | undefined {
    return this.includeUsage ? this.chunk([], usage) : undefined;
  }
}
