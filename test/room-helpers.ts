import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { roomFor, unwrap } from "../src/rooms/client";
import type { ChatType, MemberRole, RoomMember } from "../src/rooms/types";
import { DEFAULT_PERMISSIONS } from "../src/rooms/types";

let n = 0;

/**
 * Put a chat straight into D1 and configure its room, for tests of the room itself (the chats
 * API has its own tests). Members: [userId, role][].
 */
export async function seedChat(
  type: ChatType,
  members: [string, MemberRole][],
  opts: { frozen?: boolean; slowModeSeconds?: number; encrypted?: boolean } = {},
) {
  const chatId = crypto.randomUUID();
  const at = Date.now();
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO chats (id, type, name, permissions, member_count, created_by, created_at, updated_at, last_activity_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ).bind(chatId, type, `room ${++n}`, JSON.stringify(DEFAULT_PERMISSIONS), members.length, members[0]![0], at, at, at),
    ...members.map(([userId, role]) =>
      env.DB.prepare("INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)").bind(chatId, userId, role, at),
    ),
  ]);
  const room = roomFor(env, chatId);
  unwrap(
    await room.configure({
      chatId,
      type,
      frozen: opts.frozen ?? false,
      slowModeSeconds: opts.slowModeSeconds ?? 0,
      encrypted: opts.encrypted ?? false,
      permissions: DEFAULT_PERMISSIONS,
    }),
  );
  return { chatId, room };
}

export const member = (userId: string, role: MemberRole = "member", readReceipts = true): RoomMember => ({
  userId,
  role,
  overrides: null,
  readReceipts,
});

/** A test client socket: collects frames, lets tests wait for the next frame that matches. */
export class TestSocket {
  readonly frames: any[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: { match: (f: any) => boolean; resolve: (f: any) => void; from: number }[] = [];

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      const parsed = JSON.parse(e.data as string);
      // Under burst the room sends several frames at once, in order (src/rooms/outbox.ts).
      for (const frame of parsed.type === "batch" ? parsed.frames : [parsed]) this.receive(frame);
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      for (const w of this.waiters) w.resolve(null);
      this.waiters = [];
    });
  }

  private receive(frame: any) {
    this.frames.push(frame);
    this.waiters = this.waiters.filter((w) => {
      if (w.match(frame)) {
        w.resolve(frame);
        return false;
      }
      return true;
    });
  }

  send(frame: unknown) {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The first frame (already received or still to come) of `type` matching `where`. */
  next(type: string, where: (f: any) => boolean = () => true, since = 0): Promise<any> {
    const match = (f: any) => f.type === type && where(f);
    const seen = this.frames.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push({ match, resolve, from: since }));
  }

  /** The next presence change of `userId` (to `online`, when given), from the coalesced presence frames. */
  async nextPresence(userId: string, online?: boolean, since = 0): Promise<{ userId: string; online: boolean } | null> {
    const matches = (c: { userId: string; online: boolean }) => c.userId === userId && (online === undefined || c.online === online);
    const frame = await this.next("presence", (f) => f.changes.some(matches), since);
    return frame ? frame.changes.find(matches) : null;
  }

  /** Every presence change of `userId` received so far (from frame index `since`). */
  presenceOf(userId: string, since = 0): { userId: string; online: boolean }[] {
    return this.frames
      .slice(since)
      .filter((f) => f.type === "presence")
      .flatMap((f) => f.changes.filter((c: { userId: string }) => c.userId === userId));
  }

  /** Send a frame with an id and wait for its ack or error. */
  async request(frame: Record<string, unknown>): Promise<any> {
    const id = `r${++n}`;
    const start = this.frames.length;
    this.send({ ...frame, id });
    return Promise.race([this.next("ack", (f) => f.id === id, start), this.next("error", (f) => f.id === id, start)]);
  }

  /** Wait until the socket closes; returns the close code and reason. */
  async closedWith(): Promise<{ code: number; reason: string }> {
    if (this.closed) return this.closed;
    return new Promise((resolve) => this.ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
  }

  close() {
    this.ws.close(1000, "bye");
  }
}

/** Open a socket on a room directly (as the Worker does after auth). */
export async function connectRoom(chatId: string, userId: string, sessionId = crypto.randomUUID()): Promise<TestSocket> {
  const res = await roomFor(env, chatId).fetch("http://room/ws", {
    headers: { Upgrade: "websocket", "x-user-id": userId, "x-session-id": sessionId },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const socket = new TestSocket(ws);
  ws.accept();
  await socket.next("hello");
  return socket;
}

/** Users in D1 for room tests (ids only; rooms only need membership rows). */
export async function seedUsers(count: number): Promise<string[]> {
  const at = Date.now();
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  await env.DB.batch(
    ids.map((id, i) =>
      env.DB.prepare(
        "INSERT INTO users (id, username, display_name, password_hash, created_at, updated_at) VALUES (?, ?, ?, '', ?, ?)",
      ).bind(id, `room_user_${id.slice(0, 8)}_${i}`, `Room user ${i}`, at, at),
    ),
  );
  return ids;
}
