import { exports } from "cloudflare:workers";
import { BASE, uniqueIp } from "../helpers";
import type { FuzzCase } from "./cases";
import { encodeAny } from "./hostile";
import { errorShapeProblem, type OpenApiModel, type Operation } from "./openapi-doc";
import { changedKeys, type Snapshot, snapshotState } from "./state-snapshot";
import { pathValue, type World } from "./world";

/** What a call answered. */
export interface Answer {
  status: number;
  /** Whether the path that reached the Worker still has the operation's shape (`..` or `%2F` in a segment can make it another route's). */
  onRoute: boolean;
  /** The path as the Worker got it. */
  pathname: string;
  contentType: string;
  text: string;
  body: any;
}

/** The credentials an operation is called with: the owner's token, the admin's on admin routes, the API key where only a key works. */
export function credentialsFor(op: Operation, world: World): Record<string, string> {
  if (op.security.includes("bearerAuth")) {
    const token = /^\/api\/v1\/(admin|webhooks)/.test(op.path) ? world.admin.accessToken : world.owner.accessToken;
    return { authorization: `Bearer ${token}` };
  }
  if (op.security.includes("apiKeyAuth")) return { authorization: `ApiKey ${world.apiKey}` };
  return {};
}

/** The URL of a case: the world's ids in the path unless the case overrides them, then its query. */
export function urlFor(op: Operation, world: World, c: Pick<FuzzCase, "pathOverrides" | "query">): string {
  const path = op.path.replace(
    /\{(\w+)\}/g,
    (_, name: string) => c.pathOverrides[name] ?? encodeURIComponent(pathValue(world, op.path, name)),
  );
  const query = c.query.map(([k, v]) => `${encodeAny(k)}=${encodeAny(v)}`).join("&");
  return `${BASE}${path}${query ? `?${query}` : ""}`;
}

/** Send a case through the Worker's fetch handler. */
export async function sendCase(
  op: Operation,
  world: World,
  c: FuzzCase,
  headers: Record<string, string> = credentialsFor(op, world),
): Promise<Answer> {
  const all: Record<string, string> = { "cf-connecting-ip": uniqueIp(), ...headers };
  if (c.body?.contentType) all["content-type"] = c.body.contentType;
  const withBody = c.body && !["GET", "HEAD"].includes(op.method);
  const request = new Request(urlFor(op, world, c), { method: op.method, headers: all, body: withBody ? c.body!.text : undefined });
  const pathname = new URL(request.url).pathname;
  const onRoute = routeShape(op).test(pathname);
  const res = await exports.default.fetch(request);
  const text = op.method === "HEAD" ? "" : await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = undefined;
  }
  return { status: res.status, onRoute, pathname, contentType: res.headers.get("content-type") ?? "", text, body };
}

/**
 * 503s that name a missing deployment setting, documented on the operation and in the README's
 * configuration table: not failures of the code. The test environment has no FCM service account,
 * so an FCM push target is answered `503 push_not_configured`, as documented.
 */
const CONFIGURATION_503: Record<string, string[]> = { addPushTarget: ["push_not_configured"] };

/** Whether an answer is one of the documented configuration 503s (counted apart from the 5xx). */
export const isConfigurationAnswer = (op: Operation, answer: Answer) =>
  answer.status === 503 && op.statuses.includes(503) && (CONFIGURATION_503[op.operationId] ?? []).includes(answer.body?.error?.code);

/** Statuses a request whose path no longer names this route may get from the router instead. */
const ROUTER_STATUSES = [400, 404, 405];

/** A regular expression of the paths an operation's template matches. */
const routeShape = (op: Operation) => new RegExp(`^${op.path.replace(/\{\w+\}/g, "[^/]+")}$`);
const paramCount = (op: Operation) => (op.path.match(/\{/g) ?? []).length;

/** Another operation with fewer parameters that the path also matches (`/stories/me` beside `/stories/{id}`): the router's pick. */
const moreSpecificRoute = (op: Operation, model: OpenApiModel, pathname: string) =>
  model.operations.find((o) => o !== op && o.method === op.method && paramCount(o) < paramCount(op) && routeShape(o).test(pathname));

/**
 * The contract problems of one answer: a 5xx, a status the operation does not document, an error
 * body without the error shape, a 2xx body that does not match its documented schema.
 */
export function answerProblems(op: Operation, model: OpenApiModel, c: FuzzCase, answer: Answer): string[] {
  const problems: string[] = [];
  const { status } = answer;
  if (status >= 500 && !isConfigurationAnswer(op, answer)) problems.push(`answered ${status}: ${answer.text.slice(0, 300)}`);
  if (!answer.onRoute || moreSpecificRoute(op, model, answer.pathname)) {
    // The URL parser resolved the segment into another route, or a static route of the same shape
    // takes it: only the rules of every answer hold.
    if (status >= 400 && op.method !== "HEAD" && errorShapeProblem(answer.body))
      problems.push(`error body: ${errorShapeProblem(answer.body)}: ${answer.text.slice(0, 200)}`);
    return problems;
  }
  const rerouted = c.kind === "bad-param" && ROUTER_STATUSES.includes(status);
  if (!op.statuses.includes(status) && !rerouted)
    problems.push(`status ${status} is not documented (${op.statuses.join(", ")}): ${answer.text.slice(0, 200)}`);
  if (status >= 400 && op.method !== "HEAD") {
    const shape = answer.contentType.includes("json") ? errorShapeProblem(answer.body) : `content type ${answer.contentType}`;
    if (shape) problems.push(`error body: ${shape}: ${answer.text.slice(0, 200)}`);
  }
  const schema = op.responseSchemas.get(status);
  if (status >= 200 && status < 300 && schema && op.method !== "HEAD") {
    const errors = answer.body === undefined ? ["not JSON"] : model.validate(schema, answer.body);
    if (errors.length) problems.push(`${status} body does not match its schema: ${errors.slice(-4).join("; ")}`);
  }
  return problems;
}

/**
 * Run a case and check it; for a refused one (4xx), also that D1 and the world's room are as
 * they were (`previous`: the state after the last refused case, when nothing ran since). A change is confirmed by sending the same case again on settled state, so late
 * writes of an earlier request (waitUntil) are not blamed on this one.
 */
export async function checkCase(
  op: Operation,
  model: OpenApiModel,
  world: World,
  c: FuzzCase,
  previous: Snapshot | null = null,
): Promise<{ answer: Answer; problems: string[]; after: Snapshot | null }> {
  const rooms = [world.chatId];
  const before = previous ?? (await snapshotState(rooms));
  const answer = await sendCase(op, world, c);
  const problems = answerProblems(op, model, c, answer);
  let after: Snapshot | null = null;
  if (answer.status >= 400) {
    after = await snapshotState(rooms);
    const changed = changedKeys(before, after);
    if (changed.length) {
      const settled = await snapshotState(rooms);
      const again = await sendCase(op, world, c);
      const still = again.status >= 400 ? changedKeys(settled, await snapshotState(rooms)) : [];
      if (still.length) problems.push(`refused with ${answer.status} ${answer.body?.error?.code ?? ""} but changed ${still.join(", ")}`);
      after = null;
    }
  }
  // The state after a refusal is the state before the next case (one snapshot per case, not two).
  return { answer, problems, after };
}
