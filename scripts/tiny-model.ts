// `npm run tiny-model -- PATH [--seed N] [--context-length N]`: writes the tiny llama GGUF the tests
// and benchmarks use (every byte of text is one token to it: 131072 holds Claude Code's requests).
import { exitWith, parseCommandLine } from "../shared/cli.ts";
import { writeTinyLlamaGguf } from "./gguf/tiny-llama.ts";

const USAGE = "usage: npm run tiny-model -- PATH [--seed N] [--context-length N (default 32768)]";
const { positionals, values } = parseCommandLine({
  name: "tiny-model",
  usage: USAGE,
  allowPositionals: true,
  options: { seed: { type: "string", default: "42" }, "context-length": { type: "string", default: "32768" } },
  integers: { "context-length": { min: 16, max: 1_048_576 } },
});
const path = positionals[0];
const seed = Number(values.seed);
if (!path || positionals.length > 1 || !Number.isInteger(seed)) {
  console.error(USAGE);
  process.exit(2);
}
const size = await writeTinyLlamaGguf(path, { seed, contextLength: Number(values["context-length"]) }).catch((error: unknown) => exitWith("tiny-model", error));
console.log(`wrote ${path} (${(size / 1024).toFixed(0)} KiB, seed ${seed}, context ${values["context-length"]})`);
