// `npm run tiny-model -- PATH [--seed N]`: writes the tiny llama GGUF the tests and benchmarks use.
import { exitWith, parseCommandLine } from "../shared/cli.ts";
import { writeTinyLlamaGguf } from "./gguf/tiny-llama.ts";

const USAGE = "usage: npm run tiny-model -- PATH [--seed N]";
const { positionals, values } = parseCommandLine({
  name: "tiny-model",
  usage: USAGE,
  allowPositionals: true,
  options: { seed: { type: "string", default: "42" } },
});
const path = positionals[0];
const seed = Number(values.seed);
if (!path || positionals.length > 1 || !Number.isInteger(seed)) {
  console.error(USAGE);
  process.exit(2);
}
const size = await writeTinyLlamaGguf(path, { seed }).catch((error: unknown) => exitWith("tiny-model", error));
console.log(`wrote ${path} (${(size / 1024).toFixed(0)} KiB, seed ${seed})`);
