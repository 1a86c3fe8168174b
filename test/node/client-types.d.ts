// Types for scripts/client-types.mjs (plain JavaScript), which the client tests use.
declare module "*/scripts/client-types.mjs" {
  /** Where the generated REST types are committed (client/generated/api.d.ts). */
  export const CLIENT_TYPES_FILE: string;
  /** The text of client/generated/api.d.ts for an OpenAPI document. */
  export function renderClientTypes(document: unknown): Promise<string>;
}
