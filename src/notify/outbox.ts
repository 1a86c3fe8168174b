import { desc, eq } from "drizzle-orm";
import { createDb } from "../db/client";
import { devOutbox } from "../db/schema";
import { newId } from "../lib/ids";
import { iso, now } from "../lib/time";
import type { OutgoingMessage } from "./notifier";

/** Store a message the development notifier "sent". */
export async function captureInOutbox(d1: D1Database, m: OutgoingMessage): Promise<void> {
  await createDb(d1)
    .insert(devOutbox)
    .values({ id: newId(), channel: m.channel, recipient: m.to, kind: m.kind, subject: m.subject, body: m.text, createdAt: now() });
}

/** Captured messages, newest first, optionally only those to one recipient. */
export async function readOutbox(d1: D1Database, to: string | undefined, limit: number) {
  const rows = await createDb(d1)
    .select()
    .from(devOutbox)
    .where(to ? eq(devOutbox.recipient, to) : undefined)
    .orderBy(desc(devOutbox.id))
    .limit(limit);
  return rows.map((r) => ({
    id: r.id,
    channel: r.channel,
    to: r.recipient,
    kind: r.kind,
    subject: r.subject,
    text: r.body,
    createdAt: iso(r.createdAt),
  }));
}
