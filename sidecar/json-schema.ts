// Client JSON Schemas (response_format, tool parameters) as node-llama-cpp's grammar takes them.
// Its grammar enforces types, enums, const, oneOf, properties, required, items, string lengths,
// item counts, the date and time formats and $defs references, and silently ignores everything
// else. What zod can read but the grammar cannot express (numeric bounds: zod's z.int() always
// emits the safe-integer range; patterns: Claude Code's tools have one; other formats such as
// email and uri; uniqueItems, contains, propertyNames, the key names of patternProperties) is left
// out of the grammar and checked on the finished answer instead, with
// `answerCheck`: the response_format answer (grammars.ts) and every tool call's arguments
// (engine.ts); a violation is an error answer, never a 200. What neither can check (not,
// if/then/else, dependent*, unevaluated*) is refused with a 400, since the answer could come back
// violating it, and so is a schema zod cannot read that needs the answer check. Spellings it does
// not know but can express are rewritten: anyOf -> oneOf (what zod's .nullable() and pydantic's
// Optional produce), definitions -> $defs, and an allOf whose members agree (pydantic v1's
// `allOf: [{$ref}]`, composed object schemas) folded into its parent; one whose members do not is a 400.
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

/** Where a schema is being rewritten: the request field it came in (the 400's param) and what was left for the answer check. */
interface Rewriting {
  param: string;
  deferred: Set<string>;
}

/**
 * The schema as the grammar takes it; a 400 with `param` set to `param` when it cannot be
 * enforced, which includes keywords left for the answer check when zod cannot read the schema.
 */
export function toGrammarSchema(schema: unknown, param: string): GbnfJsonSchema {
  const rewriting: Rewriting = { param, deferred: new Set() };
  const grammar = rewrite(schema, param, rewriting) as GbnfJsonSchema;
  if (rewriting.deferred.size && !answerCheck(schema)) {
    const keywords = [...rewriting.deferred].join(", ");
    throw badRequest(`${keywords}: cannot be enforced by the local model (its grammar cannot, and this schema cannot be read to check the answer); remove ${rewriting.deferred.size > 1 ? "them" : "it"}`, param);
  }
  return grammar;
}

function rewrite(node: unknown, path: string, rewriting: Rewriting): unknown {
  const { param } = rewriting;
  if (typeof node !== "object" || node === null || Array.isArray(node)) {
    if (typeof node === "boolean") return node;
    throw badRequest(`${path} must be a JSON Schema object`, param);
  }
  const out: Record<string, unknown> = {};
  const shaped = withType(withPatternsAsAdditional(withoutAllOf(node as Record<string, unknown>, path, param), path, rewriting));
  for (const [key, value] of Object.entries(shaped)) {
    const at = `${path}.${key}`;
    if (CHECKED_AFTER.has(key) || (key === "format" && !GRAMMAR_FORMATS.has(String(value)))) {
      rewriting.deferred.add(key === "format" ? `${at} "${value}"` : at);
      continue;
    }
    if (UNENFORCED.has(key)) throw badRequest(`${at}: "${key}" cannot be enforced by the local model; remove it or describe it in "description"`, param);
    if (key === "$ref") {
      const ref = String(value).replace(/^#\/definitions\//, "#/$defs/");
      if (!ref.startsWith("#/$defs/")) throw badRequest(`${at}: only references into $defs or definitions are supported, got "${value}"`, param);
      out.$ref = ref;
    } else if (SCHEMA_MAPS.has(key) && typeof value === "object" && value !== null) {
      const target = key === "definitions" ? "$defs" : key;
      out[target] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, rewrite(child, `${at}.${name}`, rewriting)]));
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key === "anyOf" ? "oneOf" : key] = value.map((child, index) => rewrite(child, `${at}[${index}]`, rewriting));
    } else if (SCHEMA_VALUES.has(key) && typeof value === "object" && value !== null) {
      out[key] = rewrite(value, at, rewriting);
    } else {
      out[key] = value;
    }
  }
  return out;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Keywords that may stand beside a $ref: the grammar follows the reference and nothing else. */
const REF_SIBLINGS = new Set(["$ref", "description", "title", "$defs", "definitions"]);

/**
 * The node with its allOf folded in: properties with distinct names, required lists united, any
 * other keyword equal wherever it is set, and a $ref only where nothing but annotations stands
 * beside it. Members that cannot all be folded are a 400: leaving one out would let the grammar
 * write less than the schema allows (its objects are closed) or more than it does.
 */
function withoutAllOf(node: Record<string, unknown>, path: string, param: string): Record<string, unknown> {
  const { allOf, ...rest } = node;
  if (allOf === undefined) return node;
  const members = Array.isArray(allOf) ? allOf : [allOf];
  let merged: Record<string, unknown> | undefined = rest;
  for (const member of members) merged = merged && foldMember(merged, member);
  if (merged) return merged;
  throw badRequest(`${path}.allOf: its members cannot be merged into one schema the local model can enforce (a $ref beside other keywords, a property in two members, or a keyword set two ways); merge them`, param);
}

function foldMember(into: Record<string, unknown>, member: unknown): Record<string, unknown> | undefined {
  if (!isRecord(member)) return undefined;
  const merged = { ...into };
  for (const [key, value] of Object.entries(member)) {
    const had = merged[key];
    if (had === undefined) merged[key] = value;
    else if (key === "properties" && isRecord(had) && isRecord(value) && !Object.keys(value).some((name) => name in had)) merged.properties = { ...had, ...value };
    else if (key === "required" && Array.isArray(had) && Array.isArray(value)) merged.required = [...new Set([...had, ...value])];
    else if (JSON.stringify(had) !== JSON.stringify(value)) return undefined;
  }
  if (merged.$ref !== undefined && Object.keys(merged).some((key) => !REF_SIBLINGS.has(key))) return undefined;
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
function withPatternsAsAdditional(node: Record<string, unknown>, path: string, rewriting: Rewriting): Record<string, unknown> {
  const { patternProperties, ...rest } = node;
  if (patternProperties === undefined) return node;
  rewriting.deferred.add(`${path}.patternProperties`);
  if (!isRecord(patternProperties) || rest.additionalProperties === true) return rest;
  const values = [...(isRecord(rest.additionalProperties) ? [rest.additionalProperties] : []), ...Object.values(patternProperties)];
  if (!values.length) return rest;
  return { ...rest, additionalProperties: values.length === 1 ? values[0] : { anyOf: values } };
}

/** Keywords whose value is one schema, for zodSpelling's walk (the grammar's SCHEMA_VALUES and the checked ones). */
const ONE_SCHEMA = new Set([...SCHEMA_VALUES, "not", "contains", "propertyNames", "if", "then", "else"]);

/**
 * The client's schema as zod reads it: zod resolves references into `$defs` only, so draft 7's
 * (and pydantic v1's) `definitions` is named `$defs`, as are the references into it.
 */
function zodSpelling(node: unknown): unknown {
  if (!isRecord(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref" && typeof value === "string") out.$ref = value.replace(/^#\/definitions\//, "#/$defs/");
    else if ((SCHEMA_MAPS.has(key) || key === "patternProperties") && isRecord(value)) {
      out[key === "definitions" ? "$defs" : key] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, zodSpelling(child)]));
    } else if ((SCHEMA_LISTS.has(key) || key === "allOf") && Array.isArray(value)) out[key] = value.map(zodSpelling);
    else if (ONE_SCHEMA.has(key)) out[key] = zodSpelling(value);
    else out[key] = value;
  }
  return out;
}

/**
 * Checks a finished value against the schema as the client sent it (zod's reading of it), for what
 * the grammar does not enforce (numeric bounds, patterns, formats...). Throws with zod's message. undefined when zod cannot
 * read the schema; the grammar's shape still holds then.
 */
export function answerCheck(schema: unknown): ((value: unknown) => void) | undefined {
  let full: z.ZodType;
  try {
    full = z.fromJSONSchema(zodSpelling(schema) as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return undefined;
  }
  return (value) => {
    const checked = full.safeParse(value);
    if (!checked.success) throw new Error(z.prettifyError(checked.error));
  };
}
