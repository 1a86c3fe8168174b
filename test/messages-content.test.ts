import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { C, cid, createGroup, MISSING, openChatSocket, sendRaw } from "./chat-helpers";
import { api, expectError, expectInvalid, signUp, type TestUser } from "./helpers";
import { MP4, PDF, PNG } from "./media-fixtures";
import { getMedia, mediaRow, upload } from "./media-helpers";

/** Message content: types, attachments, locations, contacts, metadata; over REST and the socket. */

const sendBody = (u: TestUser, chatId: string, body: Record<string, unknown>) => sendRaw(u, chatId, { clientMessageId: cid(), ...body });

const events = async (u: TestUser, chatId: string, after = 0) =>
  (await api("GET", `${C}/${chatId}/events?after=${after}`, { token: u.accessToken })).body.events as any[];

describe("media messages", () => {
  it("an image with a caption carries the attachment; members may read the media, strangers may not", async () => {
    const [a, b, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const item = await upload(a, PNG, { type: "image/png", name: "cat.png" });
    expectError(await getMedia(b, item.id), 404, "not_found");

    const res = await sendBody(a, chat.id, { type: "image", text: "my cat", attachments: [item.id] });
    expect(res.status, res.text).toBe(201);
    expect(res.body.message).toMatchObject({
      type: "image",
      text: "my cat",
      attachments: [{ mediaId: item.id, mimeType: "image/png", size: PNG.byteLength, fileName: "cat.png" }],
    });
    expect((await getMedia(b, item.id)).status).toBe(200);
    expectError(await getMedia(stranger, item.id), 404, "not_found");
    expect((await mediaRow(item.id)).attached_at).not.toBeNull();
  });

  it("refuses media that is not mine (404), does not fit the type (422), or is not an attachment (422)", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const theirs = await upload(b, PNG, { type: "image/png" });
    const pdf = await upload(a, PDF, { type: "application/pdf" });
    const avatar = await upload(a, PNG, { type: "image/png", purpose: "avatar" });
    const notMine = await sendBody(a, chat.id, { type: "image", attachments: [theirs.id] });
    expectError(notMine, 404, "not_found");
    expect(notMine.body.error.details).toEqual({ mediaId: theirs.id });
    expectError(await sendBody(a, chat.id, { type: "image", attachments: [MISSING] }), 404, "not_found");
    const mismatch = await sendBody(a, chat.id, { type: "video", attachments: [pdf.id] });
    expectError(mismatch, 422, "attachment_type_mismatch");
    expect(mismatch.body.error.details).toMatchObject({ mediaId: pdf.id, mimeType: "application/pdf", type: "video" });
    expectError(await sendBody(a, chat.id, { type: "image", attachments: [avatar.id] }), 422, "media_not_attachable");
    // Nothing was stored by any of them: no message, no reference, the item still unattached (swept if never used).
    const refs = await env.DB.prepare("SELECT count(*) AS n FROM media_refs WHERE media_id = ?").bind(pdf.id).first<{ n: number }>();
    expect(refs!.n).toBe(0);
    expect((await mediaRow(pdf.id)).attached_at).toBeNull();
    expect((await api("GET", `${C}/${chat.id}/messages`, { token: a.accessToken })).body.items.filter((m: any) => m.senderId)).toEqual([]);
    // A file takes any type; a voice note exactly one attachment.
    expect((await sendBody(a, chat.id, { type: "file", attachments: [pdf.id] })).status).toBe(201);
    expectInvalid(await sendBody(a, chat.id, { type: "voice", attachments: [pdf.id, pdf.id] }), "body.attachments");
  });

  it("sendMedia gates media types but not text", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const patched = await api("PATCH", `${C}/${chat.id}`, { token: a.accessToken, body: { permissions: { sendMedia: false } } });
    expect(patched.status, patched.text).toBe(200);
    const item = await upload(b, MP4, { type: "video/mp4" });
    expectError(await sendBody(b, chat.id, { type: "video", attachments: [item.id] }), 403, "media_forbidden");
    expect((await sendBody(b, chat.id, { text: "words are fine" })).status).toBe(201);
    // Admins may do everything.
    const own = await upload(a, MP4, { type: "video/mp4" });
    expect((await sendBody(a, chat.id, { type: "video", attachments: [own.id] })).status).toBe(201);
  });

  it("a retry of a media message answers the stored one and keeps its media attached", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const item = await upload(a, PNG, { type: "image/png" });
    const body = { clientMessageId: cid(), type: "image", attachments: [item.id] };
    const first = await sendRaw(a, chat.id, body);
    const again = await sendRaw(a, chat.id, body);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.message.id).toBe(first.body.message.id);
    const refs = await env.DB.prepare("SELECT count(*) AS n FROM media_refs WHERE media_id = ?").bind(item.id).first<{ n: number }>();
    expect(refs!.n).toBe(1);
  });

  it("concurrent retries of a media message store it once; the losers' references are taken back, the item kept", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const item = await upload(a, PNG, { type: "image/png" });
    const body = { clientMessageId: cid(), type: "image", attachments: [item.id] };
    const answers = await Promise.all([1, 2, 3].map(() => sendRaw(a, chat.id, body)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(answers.map((r) => r.body.message.id)).size).toBe(1);
    const refs = await env.DB.prepare("SELECT message_id FROM media_refs WHERE media_id = ?").bind(item.id).all<{ message_id: string }>();
    // The losers' references are taken back after their answers (waitUntil): the stored message's is sure to be there now.
    const stored = answers[0]!.body.message.id;
    expect(refs.results.map((r) => r.message_id)).toContain(stored);
    expect((await mediaRow(item.id)).attached_at).not.toBeNull();
  });

  it("deleting for everyone erases the content and the media nobody else references", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const item = await upload(a, PNG, { type: "image/png" });
    const sent = (await sendBody(a, chat.id, { type: "image", text: "gone soon", attachments: [item.id] })).body.message;
    const del = await api("DELETE", `${C}/${chat.id}/messages/${sent.id}`, { token: a.accessToken });
    expect(del.status, del.text).toBe(204);
    const tomb = (await api("GET", `${C}/${chat.id}/messages/${sent.id}`, { token: b.accessToken })).body.message;
    expect(tomb).toMatchObject({ deleted: true, text: null, attachments: [], seq: sent.seq });
    expect(await mediaRow(item.id)).toBeNull();
    expect(await env.MEDIA.head(`media/${item.id}`)).toBeNull();
  });
});

describe("locations, contacts, metadata", () => {
  it("a live location moves by edits until liveUntil; a plain one cannot be moved", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const liveUntil = new Date(Date.now() + 3600_000).toISOString();
    const live = await sendBody(a, chat.id, { type: "location", location: { lat: 52.52, lng: 13.405, accuracy: 12, liveUntil } });
    expect(live.status, live.text).toBe(201);
    expect(live.body.message.location).toEqual({ lat: 52.52, lng: 13.405, accuracy: 12, liveUntil });
    const moved = await api("PATCH", `${C}/${chat.id}/messages/${live.body.message.id}`, {
      token: a.accessToken,
      body: { location: { lat: 52.53, lng: 13.41 } },
    });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.body.message.location).toEqual({ lat: 52.53, lng: 13.41, liveUntil });
    const versions = await api("GET", `${C}/${chat.id}/messages/${live.body.message.id}/edits`, { token: b.accessToken });
    expect(versions.body.items).toEqual([
      { text: null, location: { lat: 52.52, lng: 13.405, accuracy: 12, liveUntil }, createdAt: expect.any(String) },
    ]);

    const still = (await sendBody(a, chat.id, { type: "location", location: { lat: 1, lng: 2 } })).body.message;
    const refused = await api("PATCH", `${C}/${chat.id}/messages/${still.id}`, {
      token: a.accessToken,
      body: { location: { lat: 3, lng: 4 } },
    });
    expectError(refused, 403, "location_not_live");
  });

  it("checks coordinates, liveUntil, contacts and the fields each type takes", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    expectInvalid(await sendBody(a, chat.id, { type: "location", location: { lat: 91, lng: 0 } }), "body.location.lat");
    expectInvalid(await sendBody(a, chat.id, { type: "location", location: { lat: 0, lng: -181 } }), "body.location.lng");
    const past = new Date(Date.now() - 1000).toISOString();
    expectInvalid(
      await sendBody(a, chat.id, { type: "location", location: { lat: 0, lng: 0, liveUntil: past } }),
      "body.location.liveUntil",
    );
    expectInvalid(await sendBody(a, chat.id, { type: "location", text: "here", location: { lat: 0, lng: 0 } }), "body.text");
    expectInvalid(await sendBody(a, chat.id, { type: "contact", contact: { name: "Ann" } }), "body.contact");
    expectInvalid(await sendBody(a, chat.id, { type: "contact", contact: { name: "Ann", phone: "12345" } }), "body.contact.phone");
    expectInvalid(await sendBody(a, chat.id, { type: "text", text: "x", location: { lat: 0, lng: 0 } }), "body.location");
    expectInvalid(await sendBody(a, chat.id, { type: "system", text: "x" }), "body.type");
    const ok = await sendBody(a, chat.id, { type: "contact", contact: { name: "Ann", phone: "+14155550123" } });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.message).toMatchObject({ type: "contact", text: null, contact: { name: "Ann", phone: "+14155550123" } });
  });

  it("returns silent and metadata as stored; refuses metadata over 4 KiB", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const metadata = { kind: "order", items: [1, { sku: "x-1", qty: 2 }], note: null, ok: true };
    const res = await sendBody(a, chat.id, { text: "see order", silent: true, metadata });
    expect(res.status, res.text).toBe(201);
    expect(res.body.message).toMatchObject({ silent: true, metadata });
    const [event] = (await events(a, chat.id)).filter((e) => e.type === "message.new" && e.message.senderId === a.id);
    expect(event.message).toMatchObject({ silent: true, metadata });
    expectInvalid(await sendBody(a, chat.id, { text: "big", metadata: { blob: "x".repeat(4100) } }), "body.metadata");
    expectInvalid(await sendBody(a, chat.id, { text: "not an object", metadata: [1, 2] }), "body.metadata");
  });
});

describe("entities", () => {
  it("are detected in text and captions with UTF-16 offsets, and follow edits", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const text = "😀 hi @Ann_1 see example.com #Café mail bo@x.org";
    const m = (await sendBody(a, chat.id, { text })).body.message;
    const found = m.entities.map((e: any) => [e.type, text.slice(e.offset, e.offset + e.length)]);
    expect(found).toEqual([
      ["mention", "@Ann_1"],
      ["url", "example.com"],
      ["hashtag", "#Café"],
      ["email", "bo@x.org"],
    ]);
    expect(m.entities[1].url).toBe("https://example.com/");
    const edited = await api("PATCH", `${C}/${chat.id}/messages/${m.id}`, { token: a.accessToken, body: { text: "now just #tags" } });
    expect(edited.body.message.entities).toEqual([{ type: "hashtag", offset: 9, length: 5, tag: "tags" }]);
  });
});

describe("the socket sends the same content", () => {
  it("message.send with messageType and attachments, acked with the message; bad content is an error frame", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const item = await upload(a, PNG, { type: "image/png" });
    const sa = await openChatSocket(a, chat.id);
    const sb = await openChatSocket(b, chat.id);
    const ack = await sa.request({
      type: "message.send",
      clientMessageId: cid(),
      messageType: "image",
      text: "pic",
      attachments: [item.id],
    });
    expect(ack).toMatchObject({ type: "ack", message: { type: "image", text: "pic", attachments: [{ mediaId: item.id }] } });
    const seen = await sb.next("message.new", (f) => f.message.senderId === a.id);
    expect(seen.message.id).toBe(ack.message.id);
    expect((await getMedia(b, item.id)).status).toBe(200);

    const error = await sa.request({ type: "message.send", clientMessageId: cid(), messageType: "image", text: "no media" });
    expect(error).toMatchObject({ type: "error", code: "validation_failed", details: [{ path: "attachments" }] });
    sa.close();
    sb.close();
  });
});
