import { z } from "zod";
import type { BeforeSendConfig } from "../lib/config";
import { AppError } from "../lib/errors";
import { CONTROL_EXCEPT_NEWLINE_RE } from "../lib/validate";
import { signedHeaders } from "../lib/webhook-signing";

/**
 * The before-send hook: a deployment may name an endpoint (BEFORE_SEND_URL) that sees each message
 * before the room stores it, from every path (REST, socket frames, forwards, scheduled messages
 * falling due), and answers `{action: "allow"}`, `{action: "reject", reason?}` or
 * `{action: "rewrite", text}`. The request is JSON, signed like webhooks when BEFORE_SEND_SECRET is
 * set, and bounded by a hard timeout; a hook that times out, fails or answers nonsense lets the
 * message through (fail-open, the default) or refuses it with `503 hook_unavailable` (fail-closed).
 * Encrypted messages are not shown to it (their text is ciphertext to the server).
 */

/** What the hook is shown. */
export interface ScreenRequest {
  chatId: string;
  chatType: string;
  senderId: string;
  clientMessageId: string;
  type: string;
  text: string | null;
  attachmentCount: number;
  replyToId: string | null;
  metadata: Record<string, unknown> | null;
}

const Verdict = z.discriminatedUnion("action", [
  z.object({ action: z.literal("allow") }),
  z.object({ action: z.literal("reject"), reason: z.string().max(200).optional() }),
  z.object({
    action: z.literal("rewrite"),
    text: z
      .string()
      .trim()
      .min(1)
      .max(4096)
      .refine((t) => !CONTROL_EXCEPT_NEWLINE_RE.test(t)),
  }),
]);

/** The text to store (the sender's, or the hook's rewrite); throws when the message is refused. */
export async function screenMessage(config: BeforeSendConfig, request: ScreenRequest): Promise<string | null> {
  const body = JSON.stringify({ type: "message.before_send", data: request });
  let verdict: z.infer<typeof Verdict> | null = null;
  try {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (config.secret) Object.assign(headers, await signedHeaders(config.secret, crypto.randomUUID(), body));
    const res = await fetch(config.url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(config.timeoutMs),
    });
    if (res.ok) {
      const parsed = Verdict.safeParse(await res.json().catch(() => null));
      verdict = parsed.success ? parsed.data : null;
    } else await res.body?.cancel();
  } catch {
    verdict = null; // timeout or network error
  }
  if (!verdict) {
    if (config.failClosed) throw new AppError(503, "hook_unavailable", "Messages cannot be checked right now; try again");
    return request.text;
  }
  if (verdict.action === "reject") {
    throw new AppError(
      422,
      "rejected_by_hook",
      verdict.reason ?? "This message was refused",
      verdict.reason ? { reason: verdict.reason } : undefined,
    );
  }
  return verdict.action === "rewrite" ? verdict.text : request.text;
}
