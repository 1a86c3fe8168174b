import { and, eq } from "drizzle-orm";
import { createDb } from "../db/client";
import { chatMembers, chats, users } from "../db/schema";
import type { Bindings } from "../env";
import { hubFor } from "../hubs/client";
import type { PushJob } from "../hubs/notifications";
import { dropFcmToken, fcmRequest, fcmServiceAccount } from "./fcm";
import { vapidKeys } from "./vapid";
import { type DeliveryOptions, webPushRequest } from "./webpush";

/**
 * The push queue's consumer: each job is one notification for one device (queued by the user's
 * hub, hubs/notifications.ts). It checks what only D1 knows (still a member? chat muted, unless
 * the user was mentioned?), builds the payload and sends it. A push service that says the target
 * is gone (404/410) gets it pruned from the hub; one that is busy or down (429, 5xx, no answer) is
 * retried with exponential backoff (its Retry-After when longer); after the queue's last retry the
 * job goes to the dead-letter queue, whose consumer logs it. Other refusals (a 400, a bad key) are
 * logged and dropped: sending again would not help.
 */

/** The dead-letter queue's name (wrangler.toml): its batches are logged, never sent. */
export const PUSH_DLQ = "edge-messenger-push-dlq";
/** Seconds a push service keeps a notification for an offline device. */
export const PUSH_TTL_SECONDS = 24 * 3600;
/** Preview text is cut to this many characters. */
export const PREVIEW_MAX_CHARS = 200;

/** What happened to one job. */
export type Outcome =
  | { kind: "sent" }
  | { kind: "skipped"; reason: string }
  | { kind: "gone"; status: number }
  | { kind: "retry"; delaySeconds: number; why: string }
  | { kind: "failed"; why: string };

/** The notification as the device receives it (the decrypted Web Push body; FCM `data` as strings). */
export interface PushPayload {
  type: "message";
  chatId: string;
  seq: number;
  count: number;
  mention: boolean;
  chatType?: string;
  chatName?: string | null;
  sender?: { id: string; name: string | null };
  text?: string | null;
}

/** Handle a batch from the push queue or its dead-letter queue. */
export async function handlePushBatch(batch: MessageBatch<PushJob>, env: Bindings): Promise<void> {
  if (batch.queue === PUSH_DLQ) {
    for (const m of batch.messages) {
      const { userId, target, chatId, seq } = m.body;
      console.error(
        JSON.stringify({
          level: "error",
          msg: "push gave up",
          userId,
          targetId: target.id,
          kind: target.kind,
          chatId,
          seq,
          attempts: m.attempts,
        }),
      );
      m.ack();
    }
    return;
  }
  await Promise.all(
    batch.messages.map(async (m) => {
      const outcome = await deliver(env, m.body).catch((err): Outcome => ({ kind: "retry", delaySeconds: 0, why: String(err) }));
      if (outcome.kind === "retry") {
        m.retry({ delaySeconds: Math.max(outcome.delaySeconds, backoffSeconds(m.attempts)) });
        return;
      }
      if (outcome.kind === "gone") await hubFor(env, m.body.userId).removePushTarget(m.body.target.id);
      if (outcome.kind === "failed") {
        console.error(
          JSON.stringify({ level: "error", msg: "push refused", userId: m.body.userId, targetId: m.body.target.id, why: outcome.why }),
        );
      }
      m.ack();
    }),
  );
}

/** Exponential backoff with jitter: about 5 s, 10 s, 20 s … up to 10 minutes. */
export function backoffSeconds(attempts: number): number {
  const base = Math.min(600, 5 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** Deliver one job: check it against D1, build the payload, send it. */
export async function deliver(env: Bindings, job: PushJob, at = Date.now()): Promise<Outcome> {
  const db = createDb(env.DB);
  const [membership, chat, sender] = await db.batch([
    db
      .select({ mutedUntil: chatMembers.mutedUntil })
      .from(chatMembers)
      .where(and(eq(chatMembers.chatId, job.chatId), eq(chatMembers.userId, job.userId))),
    db.select({ name: chats.name }).from(chats).where(eq(chats.id, job.chatId)),
    db
      .select({ name: users.displayName })
      .from(users)
      .where(eq(users.id, job.senderId ?? "")),
  ]);
  const member = membership[0];
  if (!member) return { kind: "skipped", reason: "not_a_member" };
  if (member.mutedUntil != null && member.mutedUntil > at && !job.mention) return { kind: "skipped", reason: "muted" };
  const payload = payloadOf(job, chat[0]?.name ?? null, sender[0]?.name ?? null);
  const options: DeliveryOptions = {
    ttl: PUSH_TTL_SECONDS,
    urgency: job.chatType === "direct" || job.mention ? "high" : "normal",
    topic: job.chatId.replace(/-/g, "").slice(0, 32),
  };
  return job.target.kind === "webpush" ? sendWebPush(env, job, payload, options) : sendFcm(env, job, payload, options);
}

/** Content-free for encrypted chats and without previews: the chat, the newest seq, how many, whether I was mentioned. */
export function payloadOf(job: PushJob, chatName: string | null, senderName: string | null): PushPayload {
  const payload: PushPayload = { type: "message", chatId: job.chatId, seq: job.seq, count: job.count, mention: job.mention };
  if (job.encrypted) return payload;
  payload.chatType = job.chatType;
  payload.chatName = chatName;
  if (job.senderId) {
    payload.sender = { id: job.senderId, name: senderName };
    payload.text = job.text === null ? null : job.text.slice(0, PREVIEW_MAX_CHARS);
  }
  return payload;
}

async function sendWebPush(env: Bindings, job: PushJob, payload: PushPayload, options: DeliveryOptions): Promise<Outcome> {
  if (job.target.kind !== "webpush") return { kind: "failed", why: "not a web push target" };
  const init = await webPushRequest(job.target, payload, vapidKeys(env), options);
  return outcomeOf(await post(job.target.endpoint, init), false);
}

async function sendFcm(env: Bindings, job: PushJob, payload: PushPayload, options: DeliveryOptions): Promise<Outcome> {
  if (job.target.kind !== "fcm") return { kind: "failed", why: "not an FCM target" };
  const account = fcmServiceAccount(env);
  if (!account) return { kind: "failed", why: "FCM is not configured" };
  const data = Object.fromEntries(
    Object.entries(payload)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  const { url, init } = await fcmRequest(env, account, job.target.token, data, options);
  const res = await post(url, init);
  if (res instanceof Response && res.status === 401) dropFcmToken();
  return outcomeOf(res, true);
}

/** POST, answering the network error instead of throwing it. */
async function post(url: string, init: RequestInit): Promise<Response | Error> {
  try {
    const res = await fetch(url, init);
    await res.body?.cancel();
    return res;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** What a push service's answer means for the job (`tokenExpires`: a 401 means mint a new token and retry). */
function outcomeOf(res: Response | Error, tokenExpires: boolean): Outcome {
  if (res instanceof Error) return { kind: "retry", delaySeconds: 0, why: res.message };
  if (res.ok) return { kind: "sent" };
  if (res.status === 404 || res.status === 410) return { kind: "gone", status: res.status };
  if ((res.status === 401 && tokenExpires) || res.status === 408 || res.status === 429 || res.status >= 500) {
    const retryAfter = Number(res.headers.get("retry-after"));
    return {
      kind: "retry",
      delaySeconds: Number.isFinite(retryAfter) ? Math.min(Math.max(0, retryAfter), 3600) : 0,
      why: `HTTP ${res.status}`,
    };
  }
  return { kind: "failed", why: `HTTP ${res.status}` };
}
