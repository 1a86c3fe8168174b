import { Validator } from "@cfworker/json-schema";
import { api } from "../helpers";

/** A JSON Schema node of the served OpenAPI 3.1 document (the subset it uses). */
export type JsonSchema = Record<string, any>;

/** One parameter of an operation, with `$ref`s to components resolved. */
export interface OperationParameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required: boolean;
  schema: JsonSchema;
}

/** One operation of the served document, as the suites walk it. */
export interface Operation {
  method: string;
  path: string;
  operationId: string;
  /** `"bearerAuth"`, `"botAuth"`, `"apiKeyAuth"` or `""` (public), per alternative. */
  security: string[];
  parameters: OperationParameter[];
  /** The JSON body schema, when the operation takes JSON. */
  jsonBody: JsonSchema | null;
  bodyRequired: boolean;
  /** Any other body content type (`*\/*` uploads). */
  rawBody: boolean;
  /** Documented statuses. */
  statuses: number[];
  /** The JSON response schema per documented status. */
  responseSchemas: Map<number, JsonSchema>;
}

/** The document plus everything the suites derive from it. */
export interface OpenApiModel {
  doc: any;
  operations: Operation[];
  /** Follow a `$ref` (`#/components/...`) once; other nodes come back as they are. */
  deref(schema: JsonSchema): JsonSchema;
  /** Problems of `value` against `schema` (an empty list when it is valid). */
  validate(schema: JsonSchema, value: unknown): string[];
}

const REF_PREFIX = "#/components/schemas/";

/** Rewrite component refs to `#/$defs/…` so one self-contained schema can be validated. */
function toDefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toDefs);
  if (!node || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === "$ref" && typeof value === "string" ? value.replace(REF_PREFIX, "#/$defs/") : toDefs(value);
  }
  return out;
}

/** Fetch `/openapi.json` through the Worker and build the model of its operations. */
export async function loadOpenApi(): Promise<OpenApiModel> {
  const res = await api("GET", "/openapi.json");
  if (res.status !== 200) throw new Error(`/openapi.json answered ${res.status}`);
  const doc = res.body;
  const defs = toDefs(doc.components.schemas) as Record<string, JsonSchema>;
  const deref = (schema: JsonSchema): JsonSchema => {
    let current = schema;
    for (let i = 0; i < 10 && typeof current?.$ref === "string"; i++) {
      const [, kind, name] = /^#\/components\/(\w+)\/(.+)$/.exec(current.$ref) ?? [];
      current = doc.components[kind!]?.[name!];
    }
    return current;
  };
  const validators = new Map<JsonSchema, Validator>();
  const validate = (schema: JsonSchema, value: unknown) => {
    let validator = validators.get(schema);
    if (!validator) {
      validator = new Validator({ ...(toDefs(schema) as JsonSchema), $defs: defs } as any, "2020-12", false);
      validators.set(schema, validator);
    }
    const result = validator.validate(value);
    return result.valid ? [] : result.errors.map((e) => `${e.instanceLocation}: ${e.error}`);
  };
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(item)) {
      const parameters = ((op.parameters ?? []) as JsonSchema[]).map((p) => {
        const param = deref(p);
        return { name: param.name, in: param.in, required: Boolean(param.required), schema: param.schema ?? {} };
      });
      const content = op.requestBody?.content ?? {};
      const responseSchemas = new Map<number, JsonSchema>();
      for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
        const schema = response?.content?.["application/json"]?.schema;
        if (schema) responseSchemas.set(Number(status), schema);
      }
      operations.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        security: ((op.security ?? []) as Record<string, unknown>[]).map((s) => Object.keys(s).join("+")),
        parameters,
        jsonBody: content["application/json"]?.schema ?? null,
        bodyRequired: Boolean(op.requestBody?.required),
        rawBody: Object.keys(content).some((type) => type !== "application/json"),
        statuses: Object.keys(op.responses).map(Number),
        responseSchemas,
      });
    }
  }
  return { doc, operations, deref, validate };
}

/** Whether a JSON body is an error envelope `{error:{code,message,details?,requestId}}`; the problem otherwise. */
export function errorShapeProblem(body: any): string | null {
  const error = body?.error;
  if (!error || typeof error !== "object") return "no `error` object";
  if (typeof error.code !== "string" || !/^[a-z][a-z0-9_]*$/.test(error.code))
    return `code ${JSON.stringify(error.code)} is not snake_case`;
  if (typeof error.message !== "string" || !error.message) return "no message";
  if (typeof error.requestId !== "string" || !error.requestId) return "no requestId";
  const extra = Object.keys(error).filter((k) => !["code", "message", "details", "requestId"].includes(k));
  return extra.length ? `unexpected keys ${extra.join(", ")}` : null;
}
