import type { Bindings } from "../env";
import { isDevelopment } from "./config";
import { AppError } from "./errors";

/**
 * Where the Worker may be told to POST (push endpoints, webhooks): https to a host by name; in
 * development also http on this machine, so whole flows can be tried with a local receiver. Never
 * an IP literal elsewhere: the Worker would post to whatever address a client names. Requests
 * made to such URLs follow no redirects (their targets were never checked).
 */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;

/** `422 <code>` unless `url` is an outbound URL the Worker may call. */
export function assertOutboundUrl(env: Pick<Bindings, "ENVIRONMENT">, url: string, code: string, field: string): void {
  const parsed = new URL(url);
  const dev = isDevelopment(env);
  const allowed = parsed.protocol === "https:" ? dev || !IP_LITERAL.test(parsed.hostname) : dev && LOOPBACK_HOSTS.has(parsed.hostname);
  if (!allowed) throw new AppError(422, code, "The URL must be https to a host name", { field });
}
