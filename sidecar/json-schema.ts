// Client JSON Schemas (response_format, tool parameters) as node-llama-cpp's grammar takes them.
// Its grammar enforces types, enums, const, oneOf, properties, required, items, string lengths,
// item counts and $defs references, and silently ignores everything else. Structural keywords it
// cannot express (allOf, not, other formats...) are refused with a 400, since the answer would come
// back violating them. Numeric bounds (zod's z.int() always emits the safe-integer range) and string
// patterns (Claude Code's tools have one) are accepted, left out of the grammar and checked on the
// finished answer instead, with `answerCheck`: the response_format answer (grammars.ts) and every
// tool call's arguments (engine.ts); a violation is an error answer, never a 200. Spellings it
// does not know but can express are rewritten: anyOf -> oneOf (what zod's .nullable() and
// pydantic's Optional produce), definitions -> $defs.
import type { GbnfJsonSchema } from "node-llama-cpp";
import * as z from "zod";
import { badRequest } from "./errors.ts";

/** Checked on the finished answer only: the grammar is given the schema without them. */
const CHECKED_AFTER = new Set(["pattern"]);
const UNENFORCED = new Set([
  "patternProperties",
  "allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas", "uniqueItems", "contains",
  "minContains", "maxContains", "propertyNames", "unevaluatedProperties", "unevaluatedItems",
]);
const FORMATS = new Set(["date-time", "time", "date"]);
/** Keywords whose values are schemas (or maps or lists of schemas) to rewrite in turn. */
const SCHEMA_MAPS = new Set(["properties", "$defs", "definitions"]);
const SCHEMA_LISTS = new Set(["anyOf", "oneOf", "prefixItems"]);
const SCHEMA_VALUES = new Set(["items", "additionalProperties"]);

/** The schema as the grammar takes it; a 400 with `param` set to `param` when it cannot be enforced. */
export function toGrammarSchema(schema: unknown, param: string): GbnfJsonSchema {
  return rewrite(schema, param, param) as GbnfJsonSchema;
}

function rewrite(node: unknown, path: string, param: string): unknown {
  if (typeof node !== "object" || node === null || Array.isArray(node)) {
    if (typeof node === "boolean") return node;
    throw badRequest(`${path} must be a JSON Schema object`, param);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const at = `${path}.${key}`;
    if (CHECKED_AFTER.has(key)) continue;
    if (UNENFORCED.has(key)) throw badRequest(`${at}: "${key}" cannot be enforced by the local model's grammar; remove it or describe it in "description"`, param);
    if (key === "format" && !FORMATS.has(String(value))) throw badRequest(`${at}: format "${value}" cannot be enforced (supported: date-time, time, date)`, param);
    if (key === "$ref") {
      const ref = String(value).replace(/^#\/definitions\//, "#/$defs/");
      if (!ref.startsWith("#/$defs/")) throw badRequest(`${at}: only references into $defs or definitions are supported, got "${value}"`, param);
      out.$ref = ref;
    } else if (SCHEMA_MAPS.has(key) && typeof value === "object" && value !== null) {
      const target = key === "definitions" ? "$defs" : key;
      out[target] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, rewrite(child, `${at}.${name}`, param)]));
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key === "anyOf" ? "oneOf" : key] = value.map((child, index) => rewrite(child, `${at}[${index}]`, param));
    } else if (SCHEMA_VALUES.has(key) && typeof value === "object" && value !== null) {
      out[key] = rewrite(value, at, param);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * Checks a finished value against the schema as the client sent it (zod's reading of it), for what
 * the grammar does not enforce: numeric bounds. Throws with zod's message. undefined when zod cannot
 * read the schema; the grammar's shape still holds then.
 */
export function answerCheck(schema: unknown): ((value: unknown) => void) | undefined {
  let full: z.ZodType;
  try {
    full = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return undefined;
  }
  return (value) => {
    const checked = full.safeParse(value);
    if (!checked.success) throw new Error(z.prettifyError(checked.error));
  };
}
