import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startServer } from "../../bench/server.mjs";
import { apiClient, PASSWORD } from "./api";
import { until } from "./client-helpers";

/**
 * The two Workers under one `wrangler dev`, as `npm start` runs them (README "Two Workers"): the
 * rooms, hubs and call rooms live in the realtime Worker, and still reach the modules above them
 * through the ports src/app/wiring.ts installs there. A message's attachment is referenced by the
 * room (its members may read it, its owner may not delete it) and erased with the message; a call
 * frame on a realtime socket reaches the call room through its hub.
 */

let server: Awaited<ReturnType<typeof startServer>>;
const api = apiClient(() => server.baseUrl, "2001:db8:71::");
/** A 1×1 PNG. */
const PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="),
  (ch) => ch.charCodeAt(0),
);

interface User {
  id: string;
  token: string;
}

async function signUp(label: string): Promise<User> {
  const username = `rt_${Date.now().toString(36)}_${label}`;
  const res = await api("POST", "/auth/register", { body: { username, password: PASSWORD, displayName: label } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.user.id, token: res.body.tokens.accessToken };
}

async function uploadPng(user: User): Promise<string> {
  const res = await fetch(`${server.baseUrl}/api/v1/media`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}`, "content-type": "image/png", "cf-connecting-ip": "2001:db8:71::ff" },
    body: PNG,
  });
  const body = (await res.json()) as { id: string };
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

/** A realtime socket of `user`, with every frame it received. */
async function realtimeSocket(user: User) {
  const url = `${server.baseUrl.replace(/^http/, "ws")}/api/v1/realtime?access_token=${user.token}`;
  const socket = new WebSocket(url);
  const frames: Record<string, unknown>[] = [];
  socket.on("message", (data) => frames.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return { socket, frames };
}

beforeAll(async () => {
  server = await startServer("realtime-worker-e2e", { port: 0, vars: { ARGON2_MEMORY_KIB: "64", ARGON2_ITERATIONS: "1" } });
});
afterAll(async () => {
  await server?.stop();
});

describe("the realtime Worker beside the API Worker", () => {
  let alice: User;
  let bob: User;
  let chatId: string;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([signUp("alice"), signUp("bob")]);
    const created = await api("POST", "/chats", { token: alice.token, body: { type: "group", name: "Two Workers", memberIds: [bob.id] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    chatId = created.body.chat.id;
  });

  it("references a message's attachment for the chat's members and erases it with the message", async () => {
    const mediaId = await uploadPng(alice);
    const sent = await api("POST", `/chats/${chatId}/messages`, {
      token: alice.token,
      body: { clientMessageId: crypto.randomUUID(), type: "image", attachments: [mediaId] },
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect(sent.body.message.attachments.map((a: { mediaId: string }) => a.mediaId)).toEqual([mediaId]);

    const seen = await api("GET", `/media/${mediaId}`, { token: bob.token });
    expect(seen.status, JSON.stringify(seen.body)).toBe(200);
    const kept = await api("DELETE", `/media/${mediaId}`, { token: alice.token });
    expect([kept.status, kept.body.error.code]).toEqual([409, "media_attached"]);

    const deleted = await api("DELETE", `/chats/${chatId}/messages/${sent.body.message.id}?for=everyone`, { token: alice.token });
    expect(deleted.status, JSON.stringify(deleted.body)).toBeLessThan(300);
    // Erased after the answer (the room detaches it in the background).
    let status = 200;
    for (let tries = 0; tries < 50 && status !== 404; tries++) {
      status = (await api("GET", `/media/${mediaId}`, { token: alice.token })).status;
      if (status !== 404) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(404);
  });

  it("hands a call frame from a realtime socket to the call room", async () => {
    const bobSocket = await realtimeSocket(bob);
    try {
      const started = await api("POST", "/calls", { token: alice.token, body: { chatId, kind: "audio" } });
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      const callId = started.body.call.id;
      await until(() => bobSocket.frames.some((f) => f.type === "call.invite" && f.callId === callId), "call.invite");

      bobSocket.socket.send(JSON.stringify({ type: "call.accept", id: "accept-1", callId }));
      await until(() => bobSocket.frames.some((f) => f.id === "accept-1"), "the call.accept frame's answer");
      const answer = bobSocket.frames.find((f) => f.id === "accept-1") as { type: string; call?: { status: string } };
      expect(answer.type, JSON.stringify(answer)).toBe("ack");
      expect(answer.call?.status).toBe("active");
      const call = await api("GET", `/calls/${callId}`, { token: alice.token });
      expect(call.body.call.status).toBe("active");
    } finally {
      bobSocket.socket.close();
    }
  });
});
