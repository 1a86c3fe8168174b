import { and, eq, gt, isNull } from "drizzle-orm";
import { createDb } from "../db/client";
import { chatMembers, chats, sessions, users } from "../db/schema";
import type { Bindings } from "../env";
import { hubFor } from "../hubs/client";
import type { PushJob } from "../hubs/notifications";
import { backoffSeconds } from "../lib/backoff";
import { dropFcmToken, FcmTokenError, fcmRequest, fcmServiceAccount } from "./fcm";
import { vapidKeys } from "./vapid";
import { type DeliveryOptions, webPushRequest } from "./webpush";

/**
 * The push queue's consumer: each job is one notification for one device (queued by the user's
 * hub, hubs/notifications.ts). It checks what only D1 knows (is the device's session still live?
 * still a member? read already? chat muted, unless the user was mentioned?), builds the payload
 * and sends it. A target whose session ended, or that its push service says is gone (404/410) or
 * not ours (403), is pruned from the hub; a service that is busy or down (429, 5xx, no answer in 10
 * s) is retried with exponential backoff (its Retry-After when longer); after the queue's last
 * retry the job goes to the dead-letter queue, whose consumer logs it. Other refusals (a 400, a
 * redirect, this deployment's own configuration) are logged and dropped: sending again would not help.
 */

/** The push queue's name (wrangler.toml). */
export const PUSH_QUEUE_NAME = "edge-messenger-push";
/** The dead-letter queue's name (wrangler.toml): its batches are logged, never sent. */
export const PUSH_DLQ = "edge-messenger-push-dlq";
/** Seconds a push service keeps a notification for an offline device. */
export const PUSH_TTL_SECONDS = 24 * 3600;
/** Preview text is cut to this many characters. */
export const PREVIEW_MAX_CHARS = 200;
/** A push service that has not answered by then is tried again later. */
const SEND_TIMEOUT_MS = 10_000;

/** What happened to one job. */
export type Outcome =
  | { kind: "sent" }
  | { kind: "skipped"; reason: string }
  | { kind: "gone"; why: string }
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
  // Each message settles on its own: one failing never leaves the others unacknowledged (and resent).
  await Promise.allSettled(batch.messages.map((m) => settle(env, m)));
}

async function settle(env: Bindings, m: Message<PushJob>): Promise<void> {
  const { userId, target } = m.body;
  const outcome = await deliver(env, m.body).catch((err): Outcome => ({ kind: "retry", delaySeconds: 0, why: String(err) }));
  if (outcome.kind === "retry") {
    m.retry({ delaySeconds: Math.max(outcome.delaySeconds, backoffSeconds(m.attempts)) });
    return;
  }
  if (outcome.kind === "gone") {
    try {
      await hubFor(env, userId).removePushTarget(target.id);
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "push target prune failed", userId, targetId: target.id, error: String(err) }));
    }
  }
  if (outcome.kind === "failed") {
    console.error(JSON.stringify({ level: "error", msg: "push refused", userId, targetId: target.id, why: outcome.why }));
  }
  m.ack();
}

/** Deliver one job: check it against D1, build the payload, send it. */
export async function deliver(env: Bindings, job: PushJob, at = Date.now()): Promise<Outcome> {
  const db = createDb(env.DB);
  const [session, membership, chat, sender] = await db.batch([
    db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.id, job.target.sessionId), isNull(sessions.revokedAt), gt(sessions.expiresAt, at))),
    db
      .select({ mutedUntil: chatMembers.mutedUntil, readSeq: chatMembers.readSeq })
      .from(chatMembers)
      .where(and(eq(chatMembers.chatId, job.chatId), eq(chatMembers.userId, job.userId))),
    db.select({ name: chats.name }).from(chats).where(eq(chats.id, job.chatId)),
    db
      .select({ name: users.displayName })
      .from(users)
      .where(eq(users.id, job.senderId ?? "")),
  ]);
  // A session that expired (or ended while its hub was unreachable) takes its target with it.
  if (!session[0]) return { kind: "gone", why: "session ended" };
  const member = membership[0];
  if (!member) return { kind: "skipped", reason: "not_a_member" };
  if (member.readSeq >= job.seq) return { kind: "skipped", reason: "read" };
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
  let init: RequestInit;
  try {
    init = await webPushRequest(job.target, payload, vapidKeys(env), options);
  } catch (err) {
    return { kind: "failed", why: `cannot build the push: ${String(err)}` }; // the VAPID keys or the subscription's keys
  }
  return outcomeOf(await post(job.target.endpoint, init), "webpush");
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
  let request: Awaited<ReturnType<typeof fcmRequest>>;
  try {
    request = await fcmRequest(env, account, job.target.token, data, options);
  } catch (err) {
    // The service account's key or grant refused: only new configuration helps. Unreachable: later.
    if (err instanceof FcmTokenError && err.status >= 400 && err.status < 500) return { kind: "failed", why: err.message };
    if (err instanceof FcmTokenError) return { kind: "retry", delaySeconds: 0, why: String(err) };
    return { kind: "failed", why: `cannot build the FCM message: ${String(err)}` };
  }
  const res = await post(request.url, request.init);
  if (res instanceof Response && res.status === 401) dropFcmToken();
  return outcomeOf(res, "fcm");
}

/** POST (no redirects followed, at most 10 s), answering the network error instead of throwing it. */
async function post(url: string, init: RequestInit): Promise<Response | Error> {
  try {
    const res = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
    await res.body?.cancel();
    return res;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * What a push service's answer means for the job. 404/410: the subscription or token is gone; 403:
 * it belongs to another VAPID key or FCM sender (it must be made again); FCM's 401: a new token
 * and a retry. A redirect is not followed (the endpoint was checked, its target was not).
 */
function outcomeOf(res: Response | Error, service: "webpush" | "fcm"): Outcome {
  if (res instanceof Error) return { kind: "retry", delaySeconds: 0, why: res.message };
  if (res.ok) return { kind: "sent" };
  if (res.status === 404 || res.status === 410 || res.status === 403) return { kind: "gone", why: `HTTP ${res.status}` };
  if ((res.status === 401 && service === "fcm") || res.status === 408 || res.status === 429 || res.status >= 500) {
    const retryAfter = Number(res.headers.get("retry-after"));
    return {
      kind: "retry",
      delaySeconds: Number.isFinite(retryAfter) ? Math.min(Math.max(0, retryAfter), 3600) : 0,
      why: `HTTP ${res.status}`,
    };
  }
  return { kind: "failed", why: `HTTP ${res.status}` };
}
