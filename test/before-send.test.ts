import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { BeforeSendConfig } from "../src/lib/config";
import { newWebhookSecret } from "../src/lib/webhook-signing";
import { roomFor } from "../src/rooms/client";
import { cid, createGroup, history, ok, openChatSocket, sendRaw } from "./chat-helpers";
import { api, expectError, signUp } from "./helpers";

/**
 * The before-send hook: every path of a send (REST and socket frames) goes through it; it may
 * allow, refuse or rewrite; a hook that fails or times out lets messages through (open) or
 * refuses them (closed). Requests are signed like webhooks (checked with the reference library).
 */

const HOOK = "https://hook.example.test/before-send";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A group whose room uses this hook configuration (set on the room as the deployment would). */
async function hookedGroup(config: Partial<BeforeSendConfig> = {}) {
  const [owner, member] = await Promise.all([signUp(), signUp()]);
  const chat = await createGroup(owner, [member]);
  const hook: BeforeSendConfig = { url: HOOK, secret: newWebhookSecret(), timeoutMs: 1500, failClosed: false, ...config };
  await runInDurableObject(roomFor(env, chat.id), (room) => {
    (room as unknown as { log: { host: { beforeSend: BeforeSendConfig | null } } }).log.host.beforeSend = hook;
  });
  return { owner, member, chat, hook };
}

/** The hook's answer (a verdict, a status, or a thrown error), and what it was sent. */
function hookAnswers(answer: () => Response | Promise<Response>) {
  const calls: { headers: Record<string, string>; body: string; signal: AbortSignal | null }[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    calls.push({ headers: Object.fromEntries(request.headers), body: await request.text(), signal: init?.signal ?? null });
    return answer();
  });
  return calls;
}

const texts = async (u: Awaited<ReturnType<typeof signUp>>, chatId: string) =>
  ((await ok(await history(u, chatId))).items as { type: string; text: string | null }[])
    .filter((m) => m.type !== "system")
    .map((m) => m.text);

describe("before-send hook", () => {
  it("sees each message, signed, and may let it through or rewrite it", async () => {
    const { owner, member, chat, hook } = await hookedGroup();
    const calls = hookAnswers(() => Response.json({ action: "allow" }));
    await ok(await sendRaw(owner, chat.id, { clientMessageId: cid(), text: "plain hello" }), 201);
    const seen = new Webhook(hook.secret!).verify(calls[0]!.body, calls[0]!.headers) as { type: string; data: Record<string, unknown> };
    expect(seen).toMatchObject({
      type: "message.before_send",
      data: { chatId: chat.id, senderId: owner.id, text: "plain hello", type: "text" },
    });
    expect(calls[0]!.signal).not.toBeNull(); // bounded by the timeout

    vi.restoreAllMocks();
    hookAnswers(() => Response.json({ action: "rewrite", text: "polite hello" }));
    const rewritten = await ok(await sendRaw(owner, chat.id, { clientMessageId: cid(), text: "rude hello" }), 201);
    expect(rewritten.message.text).toBe("polite hello");
    expect(await texts(member, chat.id)).toEqual(["plain hello", "polite hello"]);
  });

  it("a refusal stores nothing, over REST and over the socket", async () => {
    const { owner, member, chat } = await hookedGroup();
    hookAnswers(() => Response.json({ action: "reject", reason: "spam" }));
    const refused = expectError(await sendRaw(owner, chat.id, { clientMessageId: cid(), text: "buy now" }), 422, "rejected_by_hook");
    expect(refused.details).toEqual({ reason: "spam" });
    const socket = await openChatSocket(owner, chat.id);
    const answer = await socket.request({ type: "message.send", clientMessageId: cid(), text: "buy now, twice" });
    expect(answer).toMatchObject({ type: "error", code: "rejected_by_hook" });
    socket.close();
    expect(await texts(member, chat.id)).toEqual([]);
  });

  it("sends waiting on the hook together still meet slow mode: the checks run once it answered", async () => {
    const { owner, member, chat } = await hookedGroup();
    await ok(await api("PATCH", `/api/v1/chats/${chat.id}`, { token: owner.accessToken, body: { slowModeSeconds: 60 } }));
    // The hook answers only once all three sends are waiting on it.
    let release!: () => void;
    const allWaiting = new Promise<void>((resolve) => {
      release = resolve;
    });
    let waiting = 0;
    hookAnswers(async () => {
      if (++waiting === 3) release();
      await allWaiting;
      return Response.json({ action: "allow" });
    });
    const results = await Promise.all([1, 2, 3].map((i) => sendRaw(member, chat.id, { clientMessageId: cid(), text: `fast ${i}` })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 429, 429]);
    expect(results.filter((r) => r.status === 429).every((r) => r.body.error.code === "slow_mode")).toBe(true);
  });

  it("a rewrite obeys the message's rules: only text is rewritten, never into blank", async () => {
    const { owner, member, chat } = await hookedGroup();
    hookAnswers(() => Response.json({ action: "rewrite", text: "   " }));
    await ok(await sendRaw(owner, chat.id, { clientMessageId: cid(), text: "kept as sent" }), 201); // a blank rewrite is no verdict: fail-open
    vi.restoreAllMocks();
    hookAnswers(() => Response.json({ action: "rewrite", text: "a caption nobody asked for" }));
    const located = await ok(
      await sendRaw(owner, chat.id, { clientMessageId: cid(), type: "location", location: { lat: 1, lng: 2 } }),
      201,
    );
    expect(located.message.text).toBeNull();
    expect(await texts(member, chat.id)).toEqual(["kept as sent", null]);
  });

  it("fails open by default and closed when configured; a timeout counts as a failure", async () => {
    const open = await hookedGroup();
    hookAnswers(() => new Response("oops", { status: 500 }));
    await ok(await sendRaw(open.owner, open.chat.id, { clientMessageId: cid(), text: "through anyway" }), 201);

    const closed = await hookedGroup({ failClosed: true });
    vi.restoreAllMocks();
    hookAnswers(() => {
      throw new DOMException("The operation timed out.", "TimeoutError");
    });
    expectError(await sendRaw(closed.owner, closed.chat.id, { clientMessageId: cid(), text: "held back" }), 503, "hook_unavailable");
    vi.restoreAllMocks();
    hookAnswers(() => Response.json({ action: "shout" })); // not a verdict: a failure too
    expectError(await sendRaw(closed.owner, closed.chat.id, { clientMessageId: cid(), text: "held back" }), 503, "hook_unavailable");
    expect(await texts(closed.member, closed.chat.id)).toEqual([]);
  });
});
