// tus-js-client's browser build (Blob sources, a pluggable HTTP stack) has the package's own types.
declare module "tus-js-client/lib.esm/browser/index.js" {
  export * from "tus-js-client";
}
