import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { FuzzCase } from "./fuzz/cases";
import { loadOpenApi, type OpenApiModel, type Operation } from "./fuzz/openapi-doc";
import { type Answer, sendCase } from "./fuzz/runner";
import { arbitraryFor } from "./fuzz/schema-arbitrary";
import { changedKeys, snapshotState } from "./fuzz/state-snapshot";
import { buildWorld, pathValue, SECRET, type World, worldUuids } from "./fuzz/world";

/**
 * The authorization matrix (issue 18), generated from /openapi.json: every operation with a path
 * parameter is called on the owner's things (its chat, message, media, story, bot, session, …) by
 * five other people: a stranger, a removed member, a banned member, someone the owner blocked and a
 * suspended account. Each answer is a documented refusal (4xx) that changes nothing stored, unless
 * the operation is listed below as one that acts on the caller's own things or shows public ones;
 * even then no answer carries the owner's private data. A new route is covered without editing
 * this file; a path parameter the world cannot fill fails the suite until test/fuzz/world.ts maps it.
 */

/** Operations another person may succeed on, and why; `changes`: it writes the caller's own rows. */
const OTHERS_MAY_SUCCEED: Record<string, { why: string; changes?: boolean }> = {
  getUser: { why: "public profile, filtered by the owner's privacy settings and blocks" },
  getUserByUsername: { why: "public profile, filtered by the owner's privacy settings and blocks" },
  listFollowers: { why: "follower lists are public" },
  listFollowing: { why: "follow lists are public" },
  followUser: { why: "the caller's own follow of the owner", changes: true },
  unfollowUser: { why: "the caller's own follow", changes: true },
  removeContact: { why: "the caller's own contact list (the id names the contact)", changes: true },
  unblockUser: { why: "the caller's own block list (the id names the blocked person)", changes: true },
  listKeyDevices: { why: "the key server publishes devices' public keys (Signal)" },
  fetchKeyBundles: { why: "the key server hands out public prekeys to anyone who starts a session (Signal)", changes: true },
};

const ACTORS = ["stranger", "removed", "banned", "blocked", "suspended"] as const;
type Actor = (typeof ACTORS)[number];

let model: OpenApiModel;
let world: World;
let calls = 0;
let leaks = 0;
const byStatus: Record<number, number> = {};

/** What the owner keeps private: no answer to anyone else may contain it. */
const privateData = (w: World) => [SECRET, w.owner.email!, w.owner.phone!, w.owner.sessionId, w.owner.refreshToken, w.owner.accessToken];

/** A request that would succeed for the owner: a valid body from the documented schema (fixed seed), no query. */
function requestFor(op: Operation, seed: number): FuzzCase {
  const body = op.jsonBody
    ? {
        text: JSON.stringify(
          fc.sample(arbitraryFor(op.jsonBody, { deref: model.deref, pool: { uuids: worldUuids(world) } }), { numRuns: 1, seed })[0],
        ),
        contentType: "application/json",
      }
    : null;
  return { kind: "valid", pathOverrides: {}, query: [], body };
}

/** The problems of one actor's call (an empty list when it was refused, or allowed and leak-free). */
async function probe(op: Operation, actor: Actor, seed: number): Promise<string[]> {
  const rooms = [world.chatId];
  const before = await snapshotState(rooms);
  const c = requestFor(op, seed);
  const answer: Answer = await sendCase(op, world, c, { authorization: `Bearer ${world[actor].accessToken}` });
  calls++;
  byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
  const allowed = OTHERS_MAY_SUCCEED[op.operationId];
  const problems: string[] = [];
  const what = `${actor}: ${op.method} ${op.path} (${op.operationId}) answered ${answer.status} ${answer.body?.error?.code ?? ""}`;
  if (answer.status >= 500) problems.push(`${what}: a 5xx`);
  else if (answer.status < 400 && !allowed) problems.push(`${what}: not refused: ${answer.text.slice(0, 200)}`);
  else if (answer.status >= 400 && !op.statuses.includes(answer.status)) problems.push(`${what}: an undocumented refusal`);
  const leaked = privateData(world).filter((secret) => secret && answer.text.includes(secret));
  if (leaked.length) {
    leaks++;
    problems.push(`${what}: carries the owner's private data (${leaked.length} item(s))`);
  }
  if (answer.status >= 400 || !allowed?.changes) {
    const changed = changedKeys(before, await snapshotState(rooms));
    if (changed.length) problems.push(`${what}: changed ${changed.join(", ")}`);
  }
  return problems;
}

describe("authorization matrix from /openapi.json", () => {
  beforeAll(async () => {
    model = await loadOpenApi();
    world = await buildWorld();
  }, 60_000);

  it("maps every path parameter of the document to one of the owner's things", () => {
    const unmapped: string[] = [];
    for (const op of model.operations) {
      for (const p of op.parameters.filter((q) => q.in === "path")) {
        try {
          pathValue(world, op.path, p.name);
        } catch (err) {
          unmapped.push((err as Error).message);
        }
      }
    }
    expect(unmapped).toEqual([]);
  });

  it("lists only operations that exist as the ones others may succeed on", () => {
    const ids = new Set(model.operations.map((op) => op.operationId));
    expect(Object.keys(OTHERS_MAY_SUCCEED).filter((id) => !ids.has(id))).toEqual([]);
  });

  for (const actor of ACTORS) {
    it(`${actor}: reads and changes nothing of the owner's through any operation with an id`, async () => {
      const ops = model.operations.filter((op) => op.parameters.some((p) => p.in === "path"));
      expect(ops.length).toBeGreaterThan(100);
      const problems: string[] = [];
      for (const [i, op] of ops.entries()) problems.push(...(await probe(op, actor, 7 + i)));
      expect(problems).toEqual([]);
    }, 180_000);
  }

  it("reports its figures", () => {
    expect(calls).toBeGreaterThan(500);
    console.log(
      `RELIABILITY-FIGURES authz ${JSON.stringify({ calls, actors: ACTORS.length, leaks, allowList: Object.keys(OTHERS_MAY_SUCCEED).length })}`,
    );
  });
});
