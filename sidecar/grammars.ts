// response_format -> a node-llama-cpp grammar that forces the answer's shape, plus a check of the
// finished text. Grammars are compiled once per distinct schema.
import type { GbnfJsonSchema, Llama, LlamaGrammar } from "node-llama-cpp";
import { badRequest } from "./errors.ts";
import { answerCheck } from "./json-schema.ts";
import type { ResponseFormatPlan } from "./request.ts";

export interface JsonConstraint {
  grammar: LlamaGrammar;
  /** Throws when the finished text is not JSON of the requested shape. */
  validate: (text: string) => void;
}

// node-llama-cpp's JSON-schema number rules allow 16 digits plus an exponent of 16 more digits, so
// "1e9999" (Infinity) satisfies the grammar; dropping the exponent bounds every number.
const NUMBER_EXPONENT = ' ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?';

const MAX_CACHED = 32;

export class GrammarCache {
  private readonly llama: Llama;
  private readonly cache = new Map<string, Promise<JsonConstraint>>();

  constructor(llama: Llama) {
    this.llama = llama;
  }

  /** undefined for plain text; a 400 naming response_format when the schema cannot become a grammar. */
  async forFormat(format: ResponseFormatPlan): Promise<JsonConstraint | undefined> {
    if (format.type === "text") return undefined;
    const key = format.type === "json_object" ? "json_object" : JSON.stringify(format.schema);
    let constraint = this.cache.get(key);
    if (!constraint) {
      constraint = format.type === "json_object" ? this.jsonObject() : this.jsonSchema(format.schema, format.original);
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, constraint);
      constraint.catch(() => this.cache.delete(key));
    }
    return constraint;
  }

  private async jsonObject(): Promise<JsonConstraint> {
    const grammar = await this.llama.getGrammarFor("json");
    return {
      grammar,
      validate: (text) => {
        const value: unknown = JSON.parse(text);
        if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("the answer is not a JSON object");
      },
    };
  }

  private async jsonSchema(schema: GbnfJsonSchema, original: Record<string, unknown>): Promise<JsonConstraint> {
    let schemaGrammar: LlamaGrammar & { parse(json: string): unknown };
    try {
      // The schema comes from the client, so its static type is the open GbnfJsonSchema.
      schemaGrammar = await this.llama.createGrammarForJsonSchema(schema as never);
    } catch (error) {
      throw badRequest(
        `response_format.json_schema.schema is not supported: ${error instanceof Error ? error.message : error}`,
        "response_format.json_schema.schema",
      );
    }
    // If node-llama-cpp ever writes its number rule differently, fail loudly rather than let
    // unbounded exponents back in without notice.
    if (/\[eE\]/.test(schemaGrammar.grammar) && !schemaGrammar.grammar.includes(NUMBER_EXPONENT)) {
      throw new Error("node-llama-cpp's JSON number rule changed: update NUMBER_EXPONENT in sidecar/grammars.ts");
    }
    const grammar = await this.llama.createGrammar({
      grammar: schemaGrammar.grammar.replaceAll(NUMBER_EXPONENT, ""),
      stopGenerationTriggers: schemaGrammar.stopGenerationTriggers,
      trimWhitespaceSuffix: schemaGrammar.trimWhitespaceSuffix,
      rootRuleName: schemaGrammar.rootRuleName,
    });
    // What the grammar does not enforce (json-schema.ts: bounds, patterns, formats...) is checked on the finished answer.
    const check = answerCheck(original);
    return {
      grammar,
      validate: (text) => {
        // parse() is JSON.parse plus node-llama-cpp's check of the value against the schema.
        check?.(schemaGrammar.parse(text));
      },
    };
  }
}
