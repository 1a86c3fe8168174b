import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { roomFor } from "../src/rooms/client";
import { C, cid, createGroup, sendRaw } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { PNG } from "./media-fixtures";
import { getMedia, M, mediaRow, upload, uploadRaw } from "./media-helpers";
import { TUS_ENDPOINT, tusUpload, workerHttpStack } from "./tus-client";

/**
 * Attachments uploaded for a chat: the room knows them, so a send there checks them without D1,
 * and their D1 references follow the commit through the room's outbox. Members can read an item
 * from the moment its message is stored, whether its references reached D1 yet or not.
 */

const sendImage = (u: TestUser, chatId: string, mediaId: string, type = "image") =>
  sendRaw(u, chatId, { clientMessageId: cid(), type, attachments: [mediaId] });
const refs = async (mediaId: string) =>
  (await env.DB.prepare("SELECT chat_id, message_id FROM media_refs WHERE media_id = ?").bind(mediaId).all()).results;
const roomSql = <T>(chatId: string, query: string, ...args: unknown[]) =>
  runInDurableObject(roomFor(env, chatId), (_: ChatRoom, state) => state.storage.sql.exec(query, ...args).toArray() as T[]);
const staged = (chatId: string) => roomSql<{ media_id: string; owner_id: string }>(chatId, "SELECT * FROM staged_media");
const outbox = (chatId: string) => roomSql<{ message_id: string }>(chatId, "SELECT * FROM media_ref_outbox");
/** Run the room's alarm: it writes whatever references are still queued. */
const settle = (chatId: string) => runDurableObjectAlarm(roomFor(env, chatId));

async function groupWithUpload() {
  const [a, b, outsider] = await Promise.all([signUp(), signUp(), signUp()]);
  const chat = await createGroup(a, [b]);
  const item = await upload(a, PNG, { type: "image/png", name: "cat.png", chatId: chat.id });
  return { a, b, outsider, chat, item };
}

describe("uploading for a chat", () => {
  it("a small upload naming the chat is staged in its room; sending it stores the message, then its D1 references", async () => {
    const { a, b, outsider, chat, item } = await groupWithUpload();
    expect((await mediaRow(item.id)).chat_id).toBe(chat.id);
    expect(await staged(chat.id)).toEqual([expect.objectContaining({ media_id: item.id, owner_id: a.id, mime_type: "image/png" })]);
    // Naming the chat grants its members nothing before a message carries the item.
    expectError(await getMedia(b, item.id), 404, "not_found");

    const sent = await sendImage(a, chat.id, item.id);
    expect(sent.status, sent.text).toBe(201);
    expect(sent.body.message.attachments).toEqual([{ mediaId: item.id, mimeType: "image/png", size: PNG.byteLength, fileName: "cat.png" }]);
    expect((await getMedia(b, item.id)).status).toBe(200);
    expectError(await getMedia(outsider, item.id), 404, "not_found");

    await settle(chat.id);
    expect(await refs(item.id)).toEqual([{ chat_id: chat.id, message_id: sent.body.message.id }]);
    expect((await mediaRow(item.id)).attached_at).not.toBeNull();
    expect(await outbox(chat.id)).toEqual([]);
  });

  it("members read an item whose references are still queued (the room answers); others, and after a delete, nobody", async () => {
    const { a, b, outsider, chat, item } = await groupWithUpload();
    const sent = await sendImage(a, chat.id, item.id);
    await settle(chat.id);
    // Put the references back on their way: D1 has none yet, the room's outbox holds them.
    await env.DB.batch([
      env.DB.prepare("DELETE FROM media_refs WHERE media_id = ?").bind(item.id),
      env.DB.prepare("UPDATE media SET attached_at = NULL WHERE id = ?").bind(item.id),
    ]);
    const messageId = sent.body.message.id;
    await roomSql(chat.id, "INSERT INTO media_ref_outbox VALUES (?, ?, ?)", messageId, JSON.stringify([item.id]), Date.now());
    expect((await getMedia(b, item.id)).status).toBe(200);
    expectError(await getMedia(outsider, item.id), 404, "not_found");
    // Its owner cannot delete it from under the message.
    expectError(await api("DELETE", `${M}/${item.id}`, { token: a.accessToken }), 409, "media_attached");

    // Deleting the message drops what was queued: nothing reaches D1 afterwards, nobody else reads it.
    expect((await api("DELETE", `${C}/${chat.id}/messages/${messageId}`, { token: a.accessToken })).status).toBe(204);
    expect(await outbox(chat.id)).toEqual([]);
    await settle(chat.id);
    expect(await refs(item.id)).toEqual([]);
    expectError(await getMedia(b, item.id), 404, "not_found");
  });

  it("a tus upload naming the chat in Upload-Metadata is staged too", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const { stack } = workerHttpStack();
    const url = await tusUpload(new Blob([PNG]), {
      token: a.accessToken,
      httpStack: stack,
      metadata: { filename: "cat.png", filetype: "image/png", chatId: chat.id },
    });
    const id = url.split("/").pop()!;
    expect((await mediaRow(id)).chat_id).toBe(chat.id);
    expect((await staged(chat.id)).map((r) => r.media_id)).toEqual([id]);
    const sent = await sendImage(a, chat.id, id);
    expect(sent.status, sent.text).toBe(201);
    expect((await getMedia(b, id)).status).toBe(200);
  });

  it("refuses a chat the uploader is not in (404), a chat id that is not one (400), and a chat for an avatar (400)", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const theirs = await createGroup(b);
    expectError(await uploadRaw(a, PNG, { type: "image/png", chatId: theirs.id }), 404, "not_found");
    expectError(await uploadRaw(a, PNG, { type: "image/png", chatId: "not-a-chat" }), 400, "validation_failed");
    const mine = await createGroup(a);
    expectError(await uploadRaw(a, PNG, { type: "image/png", purpose: "avatar", chatId: mine.id }), 400, "validation_failed");
    // A tus creation naming the chat is checked the same way, before anything is reserved.
    const viaTus = async (metadata: string) => {
      const headers = {
        "Tus-Resumable": "1.0.0",
        "Upload-Length": "10",
        "Upload-Metadata": metadata,
        Authorization: `Bearer ${a.accessToken}`,
      };
      const res = await exports.default.fetch(new Request(TUS_ENDPOINT, { method: "POST", headers }));
      return { status: res.status, body: await res.json<any>() };
    };
    expect(await viaTus(`chatId ${btoa(theirs.id)}`)).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect(await viaTus(`chatId ${btoa("nope")}`)).toMatchObject({ status: 400, body: { error: { code: "validation_failed" } } });
    // Nothing was reserved or stored for the refused uploads.
    expect((await env.DB.prepare("SELECT count(*) AS n FROM media WHERE owner_id = ?").bind(a.id).first<{ n: number }>())!.n).toBe(0);
  });
});

describe("sending staged items", () => {
  it("takes no D1 round trip before the message is stored (an unstaged item does)", async () => {
    const { a, chat, item } = await groupWithUpload();
    const other = await upload(a, PNG, { type: "image/png" }); // not named for the chat
    const stub = roomFor(env, chat.id);
    const sendWithoutD1 = (mediaId: string) =>
      runInDurableObject(stub, async (room: ChatRoom) => {
        // The send path reads D1 through the host at call time: make any use of it fail.
        const host = (room as unknown as { log: { host: { db: D1Database } } }).log.host;
        const real = host.db;
        host.db = new Proxy(real, {
          get: () => {
            throw new Error("D1 was used on the send path");
          },
        });
        try {
          return await room.send({ userId: a.id, clientMessageId: cid(), type: "image", attachments: [mediaId] });
        } finally {
          host.db = real;
        }
      });
    const fast = await sendWithoutD1(item.id);
    expect(fast).toMatchObject({ ok: true, value: { duplicate: false, message: { attachments: [{ mediaId: item.id }] } } });
    await expect(sendWithoutD1(other.id)).rejects.toThrow("D1 was used on the send path");
    await settle(chat.id);
    expect(await refs(item.id)).toEqual([{ chat_id: chat.id, message_id: (fast as any).value.message.id }]);
  });

  it("checks them like any attachment: someone else's is 404, a type that does not fit is 422, a deleted one is 404", async () => {
    const { a, b, chat, item } = await groupWithUpload();
    expectError(await sendImage(b, chat.id, item.id), 404, "not_found");
    expectError(await sendImage(a, chat.id, item.id, "video"), 422, "attachment_type_mismatch");
    expect((await api("DELETE", `${M}/${item.id}`, { token: a.accessToken })).status).toBe(204);
    expect(await staged(chat.id)).toEqual([]);
    expectError(await sendImage(a, chat.id, item.id), 404, "not_found");
    // Nothing was stored by the refused sends.
    const history = await api("GET", `${C}/${chat.id}/messages`, { token: a.accessToken });
    expect(history.body.items.filter((m: any) => m.senderId)).toEqual([]);
    expect(await outbox(chat.id)).toEqual([]);
  });

  it("references D1 failed to take stay queued and are written by the alarm", async () => {
    const { a, b, chat, item } = await groupWithUpload();
    const sent = await sendImage(a, chat.id, item.id);
    await settle(chat.id);
    await env.DB.prepare("DELETE FROM media_refs WHERE media_id = ?").bind(item.id).run();
    const messageId = sent.body.message.id;
    const alarmAfterFailure = await runInDurableObject(roomFor(env, chat.id), async (room: ChatRoom, state) => {
      const outbox = (room as unknown as { log: { media: { outbox: { deps: { db: D1Database }; flush(): Promise<void> } } } }).log.media
        .outbox;
      state.storage.sql.exec("INSERT INTO media_ref_outbox VALUES (?, ?, ?)", messageId, JSON.stringify([item.id]), Date.now());
      await state.storage.deleteAlarm();
      const real = outbox.deps.db;
      outbox.deps.db = new Proxy(real, {
        get: () => {
          throw new Error("D1 is unavailable");
        },
      });
      try {
        await outbox.flush(); // fails: logged, never thrown
      } finally {
        outbox.deps.db = real;
      }
      return state.storage.getAlarm();
    });
    expect(alarmAfterFailure).not.toBeNull();
    expect(await outbox(chat.id)).toHaveLength(1);
    expect((await getMedia(b, item.id)).status).toBe(200); // the room still answers for it
    expect(await settle(chat.id)).toBe(true);
    expect(await outbox(chat.id)).toEqual([]);
    expect(await refs(item.id)).toEqual([{ chat_id: chat.id, message_id: messageId }]);
  });

  it("an item erased with the message that carried it is no longer staged: sending it again is refused", async () => {
    const { a, chat, item } = await groupWithUpload();
    const sent = await sendImage(a, chat.id, item.id);
    await settle(chat.id);
    expect((await api("DELETE", `${C}/${chat.id}/messages/${sent.body.message.id}`, { token: a.accessToken })).status).toBe(204);
    expect(await mediaRow(item.id)).toBeNull();
    expect(await staged(chat.id)).toEqual([]);
    expectError(await sendImage(a, chat.id, item.id), 404, "not_found");
  });

  it("a retry with the same clientMessageId stores one message and one reference", async () => {
    const { a, chat, item } = await groupWithUpload();
    const body = { clientMessageId: cid(), type: "image", attachments: [item.id] };
    const [first, again] = await Promise.all([sendRaw(a, chat.id, body), sendRaw(a, chat.id, body)]);
    expect([first.status, again.status].sort()).toEqual([200, 201]);
    expect(first.body.message.id).toBe(again.body.message.id);
    await settle(chat.id);
    expect(await refs(item.id)).toEqual([{ chat_id: chat.id, message_id: first.body.message.id }]);
  });
});
