// Types for the part of bench/server.mjs the Node tests use (it is plain JavaScript).
declare module "*/bench/server.mjs" {
  /** A private `wrangler dev` of a snapshot of the app, on 127.0.0.1 with fresh local state. */
  export function startServer(
    name: string,
    options?: { port?: number; vars?: Record<string, string>; keepState?: boolean },
  ): Promise<{ baseUrl: string; logFile?: string; stop(): Promise<void> }>;
}
