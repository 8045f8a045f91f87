// A tiny llama-architecture GGUF for `npm start`, `npm run tiny-model`, tests and benchmarks: byte-fallback SPM vocabulary
// (<unk>, <s>, </s>, <0x00>..<0xFF> as BYTE tokens, plus ChatML's two control tokens),
// 2 layers of width 64, F32 weights generated from a seed, and a ChatML chat template.
// Its text is gibberish, but every node-llama-cpp code path (loading, templating, sampling,
// grammars, function calls, parallel sequences) runs for real on it.
import { writeFile } from "node:fs/promises";
import { encodeGguf, type GgufTensor, type GgufValue } from "./writer.ts";

export interface TinyLlamaOptions {
  /** Seed for the generated weights; the same seed gives the same file, byte for byte. */
  seed?: number;
  /** Leave out metadata keys (to produce deliberately broken files in tests). */
  omitKeys?: readonly string[];
  /** llama.context_length: the most tokens a sequence can hold (default 32768). Every byte of text is
   * one token to this vocabulary, so a prompt as long as Claude Code's needs more. */
  contextLength?: number;
}

const N_EMBD = 64;
const N_HEAD = 4;
const N_LAYER = 2;
const N_FF = 128;
const DEFAULT_CONTEXT_LENGTH = 32768;

// Token types of the llama vocabulary (llama.cpp's LLAMA_TOKEN_TYPE_*).
const NORMAL = 1;
const NORMAL_UNKNOWN = 2;
const CONTROL = 3;
const BYTE = 6;

export const TINY_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

interface Vocab {
  tokens: string[];
  types: number[];
  /** Bias of each token's logit: printable ASCII high, end-of-turn lower, everything else never. */
  logitBias: number[];
}

function buildVocab(): Vocab {
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [NORMAL_UNKNOWN, CONTROL, CONTROL];
  const logitBias = [-3, -3, -3];
  for (let byte = 0; byte < 256; byte++) {
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(BYTE);
    // Printable ASCII only, so whatever the model samples is valid UTF-8 text.
    logitBias.push(byte >= 0x20 && byte <= 0x7e ? 1 : -3);
  }
  // SPM turns spaces into "▁" before tokenizing; without this token a space would round-trip
  // through byte tokens as a literal "▁".
  tokens.push("\u2581");
  types.push(NORMAL);
  logitBias.push(1);
  tokens.push("<|im_start|>", "<|im_end|>");
  types.push(CONTROL, CONTROL);
  // <|im_end|> ends a turn now and then at temperature 1, but never wins under greedy
  // decoding, so `temperature: 0` runs until max_tokens.
  logitBias.push(-3, 0.8);
  return { tokens, types, logitBias };
}

/** mulberry32: a tiny deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function buildTinyLlamaGguf(options: TinyLlamaOptions = {}): Uint8Array {
  const random = prng(options.seed ?? 42);
  const gaussian = (std: number) => {
    // Box-Muller
    const u = Math.max(random(), 1e-12);
    return std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const matrix = (cols: number, rows: number, std: number) =>
    Float32Array.from({ length: cols * rows }, () => gaussian(std));
  const ones = (n: number) => new Float32Array(n).fill(1);

  const vocab = buildVocab();
  const nVocab = vocab.tokens.length;

  // Dimension 0 of every embedding is a large constant that the (small) layers barely move, so
  // after the final norm it acts as a bias input: output weight row [0] holds each token's bias.
  const embeddings = matrix(N_EMBD, nVocab, 0.5);
  const output = matrix(N_EMBD, nVocab, 0.3);
  for (let token = 0; token < nVocab; token++) {
    embeddings[token * N_EMBD] = 8;
    output[token * N_EMBD] = vocab.logitBias[token]!;
  }

  const tensors: GgufTensor[] = [
    { name: "token_embd.weight", dims: [N_EMBD, nVocab], data: embeddings },
    { name: "output_norm.weight", dims: [N_EMBD], data: ones(N_EMBD) },
    { name: "output.weight", dims: [N_EMBD, nVocab], data: output },
  ];
  for (let layer = 0; layer < N_LAYER; layer++) {
    const blk = (name: string, dims: number[], data: Float32Array) =>
      tensors.push({ name: `blk.${layer}.${name}.weight`, dims, data });
    blk("attn_norm", [N_EMBD], ones(N_EMBD));
    blk("attn_q", [N_EMBD, N_EMBD], matrix(N_EMBD, N_EMBD, 0.2));
    blk("attn_k", [N_EMBD, N_EMBD], matrix(N_EMBD, N_EMBD, 0.2));
    blk("attn_v", [N_EMBD, N_EMBD], matrix(N_EMBD, N_EMBD, 0.2));
    blk("attn_output", [N_EMBD, N_EMBD], matrix(N_EMBD, N_EMBD, 0.02));
    blk("ffn_norm", [N_EMBD], ones(N_EMBD));
    blk("ffn_gate", [N_EMBD, N_FF], matrix(N_EMBD, N_FF, 0.2));
    blk("ffn_up", [N_EMBD, N_FF], matrix(N_EMBD, N_FF, 0.2));
    blk("ffn_down", [N_FF, N_EMBD], matrix(N_FF, N_EMBD, 0.02));
  }

  const metadata = new Map<string, GgufValue>([
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: "inferrouter-tiny" }],
    ["general.alignment", { type: "u32", value: 32 }],
    ["llama.context_length", { type: "u32", value: options.contextLength ?? DEFAULT_CONTEXT_LENGTH }],
    ["llama.embedding_length", { type: "u32", value: N_EMBD }],
    ["llama.block_count", { type: "u32", value: N_LAYER }],
    ["llama.feed_forward_length", { type: "u32", value: N_FF }],
    ["llama.attention.head_count", { type: "u32", value: N_HEAD }],
    ["llama.attention.head_count_kv", { type: "u32", value: N_HEAD }],
    ["llama.rope.dimension_count", { type: "u32", value: N_EMBD / N_HEAD }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-5 }],
    ["llama.vocab_size", { type: "u32", value: nVocab }],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "array", of: "string", value: vocab.tokens }],
    ["tokenizer.ggml.scores", { type: "array", of: "f32", value: vocab.tokens.map(() => 0) }],
    ["tokenizer.ggml.token_type", { type: "array", of: "i32", value: vocab.types }],
    ["tokenizer.ggml.unknown_token_id", { type: "u32", value: 0 }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: 1 }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: vocab.tokens.indexOf("<|im_end|>") }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
    ["tokenizer.chat_template", { type: "string", value: TINY_CHAT_TEMPLATE }],
  ]);
  for (const key of options.omitKeys ?? []) metadata.delete(key);
  return encodeGguf(metadata, tensors);
}

/** Writes the tiny model to `path`; returns its size in bytes. */
export async function writeTinyLlamaGguf(path: string, options: TinyLlamaOptions = {}): Promise<number> {
  const bytes = buildTinyLlamaGguf(options);
  await writeFile(path, bytes);
  return bytes.length;
}
