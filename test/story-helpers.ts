import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { newId } from "../src/lib/ids";
import { type ApiResponse, api, type TestUser } from "./helpers";

/** Helpers for the stories tests. */
export const S = "/api/v1/stories";
export const MISSING = "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a";

export const postRaw = (u: TestUser | undefined, body: unknown) => api("POST", S, { token: u?.accessToken, body });

/** Post a story (201) and return it; a text story for `everyone` unless `body` says otherwise. */
export async function postStory(u: TestUser, body: Record<string, unknown> = {}) {
  const res = await postRaw(u, { type: "text", text: "hello", audience: { kind: "everyone" }, ...body });
  expect(res.status, res.text).toBe(201);
  return res.body.story as any;
}

export const getStory = (u: TestUser, id: string) => api("GET", `${S}/${id}`, { token: u.accessToken });
export const view = (u: TestUser, id: string) => api("POST", `${S}/${id}/view`, { token: u.accessToken });

/** The whole feed of `u` (every page), as `[authorId, [storyIds]]` plus the raw entries. */
export async function feed(u: TestUser, limit = 50) {
  const authors: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: ApiResponse = await api("GET", `${S}?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, { token: u.accessToken });
    expect(res.status, res.text).toBe(200);
    authors.push(...res.body.authors);
    cursor = res.body.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  return { authors, pages, ids: authors.map((a) => a.author.id), storyIds: authors.flatMap((a) => a.stories.map((s: any) => s.id)) };
}

/** A media row straight in D1 (the media module's upload path is not part of these tests). */
export async function insertMedia(
  owner: TestUser,
  { purpose = "story", mimeType = "image/jpeg", size = 1000 }: { purpose?: string; mimeType?: string; size?: number } = {},
) {
  const id = newId();
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO media (id, owner_id, purpose, mime_type, size, sha256, file_name, r2_key, created_at) VALUES (?, ?, ?, ?, ?, 'x', NULL, ?, ?)",
    ).bind(id, owner.id, purpose, mimeType, size, `media/${id}`, Date.now()),
    env.DB.prepare(
      "INSERT INTO storage_usage (user_id, bytes) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET bytes = bytes + excluded.bytes",
    ).bind(owner.id, size),
  ]);
  return id;
}

export const follow = async (u: TestUser, other: TestUser) =>
  expect((await api("POST", `/api/v1/users/${other.id}/follow`, { token: u.accessToken })).status).toBeLessThan(300);
export const setCloseFriends = async (u: TestUser, others: TestUser[]) =>
  expect(
    (await api("PUT", "/api/v1/users/me/close-friends", { token: u.accessToken, body: { userIds: others.map((o) => o.id) } })).status,
  ).toBe(200);

/** Move a story's expiry (the code reads the clock through lib/time's now()). */
export const expireStory = (id: string, at = Date.now() - 1000) =>
  env.DB.prepare("UPDATE stories SET expires_at = ? WHERE id = ?").bind(at, id).run();
