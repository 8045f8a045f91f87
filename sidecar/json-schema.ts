// Client JSON Schemas (response_format, tool parameters) as node-llama-cpp's grammar takes them.
// Its grammar enforces types, enums, const, oneOf, properties, required, items, string lengths,
// item counts, the date and time formats and $defs references, and silently ignores everything
// else. What zod can read but the grammar cannot express (numeric bounds: zod's z.int() always
// emits the safe-integer range; patterns: Claude Code's tools have one; other formats such as
// email and uri; uniqueItems, contains, propertyNames, the key names of patternProperties; an
// allOf whose members disagree) is left out of the grammar and checked on the finished answer instead, with
// `answerCheck`: the response_format answer (grammars.ts) and every tool call's arguments
// (engine.ts); a violation is an error answer, never a 200. What neither can check (not,
// if/then/else, dependent*, unevaluated*) is refused with a 400, since the answer could come back
// violating it. Spellings it does not know but can express are rewritten: anyOf -> oneOf (what
// zod's .nullable() and pydantic's Optional produce), definitions -> $defs, and an allOf whose
// members agree (pydantic v1's `allOf: [{$ref}]`, composed object schemas) folded into its parent.
import type { GbnfJsonSchema } from "node-llama-cpp";
import * as z from "zod";
import { badRequest } from "./errors.ts";

/** Checked on the finished answer only: the grammar is given the schema without them. */
const CHECKED_AFTER = new Set(["pattern", "uniqueItems", "contains", "minContains", "maxContains", "propertyNames"]);
/** Neither the grammar nor zod can check these. */
const UNENFORCED = new Set(["not", "if", "then", "else", "dependentRequired", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems"]);
/** The formats the grammar enforces; any other is checked after (zod knows email, uri, uuid, ip...)
 * or, when nobody knows it, is the annotation JSON Schema says an unknown format is. */
const GRAMMAR_FORMATS = new Set(["date-time", "time", "date"]);
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
  const shaped = withType(withPatternsAsAdditional(withoutAllOf(node as Record<string, unknown>)));
  for (const [key, value] of Object.entries(shaped)) {
    const at = `${path}.${key}`;
    if (CHECKED_AFTER.has(key) || (key === "format" && !GRAMMAR_FORMATS.has(String(value)))) continue;
    if (UNENFORCED.has(key)) throw badRequest(`${at}: "${key}" cannot be enforced by the local model; remove it or describe it in "description"`, param);
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

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The node with its allOf folded in, member by member: properties with distinct names, required
 * lists united, any other keyword equal wherever it is set. A member that disagrees (or a $ref
 * beside other structure, which the grammar would follow alone) is left out of the grammar, which
 * then allows more than the schema; the answer check still holds the answer to every member.
 */
function withoutAllOf(node: Record<string, unknown>): Record<string, unknown> {
  const { allOf, ...rest } = node;
  if (!Array.isArray(allOf)) return rest;
  return allOf.reduce<Record<string, unknown>>((merged, member) => foldMember(merged, member) ?? merged, rest);
}

function foldMember(into: Record<string, unknown>, member: unknown): Record<string, unknown> | undefined {
  if (!isRecord(member) || (member.$ref !== undefined && Object.keys(into).some((key) => !["description", "title"].includes(key)))) return undefined;
  const merged = { ...into };
  for (const [key, value] of Object.entries(member)) {
    const had = merged[key];
    if (had === undefined) merged[key] = value;
    else if (key === "properties" && isRecord(had) && isRecord(value) && !Object.keys(value).some((name) => name in had)) merged.properties = { ...had, ...value };
    else if (key === "required" && Array.isArray(had) && Array.isArray(value)) merged.required = [...new Set([...had, ...value])];
    else if (JSON.stringify(had) !== JSON.stringify(value)) return undefined;
  }
  return merged;
}

/** Any JSON value, as node-llama-cpp's grammar can take it (its own reading of `{}` is `null` only). */
const ANY_VALUE = { oneOf: [{ type: "string" }, { type: "number" }, { type: "boolean" }, { type: "null" }, { type: "object", additionalProperties: true }, { type: "array" }] };
const SHAPE_KEYWORDS = ["type", "enum", "const", "oneOf", "anyOf", "$ref"];

/** A node that says nothing of its type (pydantic's Any, a bare description) is any JSON value. */
function withType(node: Record<string, unknown>): Record<string, unknown> {
  if (SHAPE_KEYWORDS.some((key) => node[key] !== undefined)) return node;
  if (node.properties !== undefined || node.additionalProperties !== undefined) return { ...node, type: "object" };
  if (node.items !== undefined || node.prefixItems !== undefined) return { ...node, type: "array" };
  return { ...node, ...ANY_VALUE };
}

/**
 * patternProperties as the grammar can take them: any further key, its value one of the patterns'
 * schemas (or the additionalProperties schema). The grammar cannot hold key names to a pattern;
 * the answer check does.
 */
function withPatternsAsAdditional(node: Record<string, unknown>): Record<string, unknown> {
  const { patternProperties, ...rest } = node;
  if (!isRecord(patternProperties) || rest.additionalProperties === true) return rest;
  const values = [...(isRecord(rest.additionalProperties) ? [rest.additionalProperties] : []), ...Object.values(patternProperties)];
  if (!values.length) return rest;
  return { ...rest, additionalProperties: values.length === 1 ? values[0] : { anyOf: values } };
}

/**
 * Checks a finished value against the schema as the client sent it (zod's reading of it), for what
 * the grammar does not enforce (numeric bounds, patterns, formats...). Throws with zod's message. undefined when zod cannot
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
