// `npm run tiny-model -- PATH [--seed N]`: writes the tiny llama GGUF the tests and benchmarks use.
import { parseArgs } from "node:util";
import { writeTinyLlamaGguf } from "./gguf/tiny-llama.ts";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { seed: { type: "string", default: "42" } },
});
const path = positionals[0];
const seed = Number(values.seed);
if (!path || positionals.length > 1 || !Number.isInteger(seed)) {
  console.error("usage: npm run tiny-model -- PATH [--seed N]");
  process.exit(2);
}
const size = await writeTinyLlamaGguf(path, { seed });
console.log(`wrote ${path} (${(size / 1024).toFixed(0)} KiB, seed ${seed})`);
