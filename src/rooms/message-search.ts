import { z } from "@hono/zod-openapi";
import { AppError } from "../lib/errors";
import { decodeCursor, encodeCursor } from "../lib/pagination";
import { type SearchFilters, type SearchOrder, searchableText } from "./message-index";
import type { RoomCore } from "./room-core";
import { invalidQuery, parseQuery } from "./search-query";
import { buildSnippet } from "./snippet";
import type { Message } from "./types";

/** A search within one chat, as the route hands it over (times in ms). */
export interface ChatSearchQuery {
  q: string;
  filters: SearchFilters;
  order: SearchOrder;
  limit: number;
  cursor?: string;
}

/** One hit: the message as the searcher sees it, an HTML-safe snippet with `<mark>` around matches, its score. */
export interface ChatSearchHit {
  message: Message;
  snippet: string;
  score: number;
}

/** A page cursor: the last hit's score and seq, the clock the page was scored at, and which query it belongs to. */
const SearchCursor = z.object({ s: z.number(), q: z.number().int(), n: z.number().int(), h: z.string().max(16) });

/**
 * Full-text search in the chat (the room's FTS5 index, message-index.ts): what the member may
 * see, best first or newest first, in keyset pages. Relevance scores are computed at the clock of
 * the first page (carried in the cursor), so later pages continue exactly where the last one
 * ended while the chat's index is unchanged; `recent` pages never skip or repeat.
 */
export class MessageSearch {
  constructor(private readonly room: RoomCore) {}

  async search(userId: string, query: ChatSearchQuery): Promise<{ items: ChatSearchHit[]; nextCursor: string | null }> {
    const { store, access } = this.room;
    await access.requireMember(userId);
    const { match, terms } = parseQuery(query.q);
    const fingerprint = hash(JSON.stringify([match, query.filters, query.order]));
    const cursor = decodeCursor(query.cursor, SearchCursor);
    if (cursor && cursor.h !== fingerprint) throw new AppError(400, "invalid_cursor", "This cursor belongs to another search");
    const now = cursor?.n ?? Date.now();
    const hits = runMatch(() =>
      store.index.search({
        viewerId: userId,
        match,
        filters: query.filters,
        order: query.order,
        now,
        after: cursor ? { score: cursor.s, seq: cursor.q } : null,
        limit: query.limit,
      }),
    );
    const shown = hits.slice(0, query.limit);
    const messages = store.toMessages(
      shown.map((h) => h.row),
      access.chatId(),
      userId,
    );
    const last = shown.at(-1);
    return {
      items: shown.map((h, i) => ({
        message: messages[i]!,
        snippet: buildSnippet(searchableText(h.row.text, h.row.content), terms),
        score: h.score,
      })),
      nextCursor: hits.length > query.limit && last ? encodeCursor({ s: last.score, q: last.row.seq, n: now, h: fingerprint }) : null,
    };
  }
}

/** FTS5 refuses some expressions only when it runs them (e.g. a term it cannot parse): a 400, never a 500. */
function runMatch<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    const message = String(err);
    if (/fts5|syntax error|unterminated|malformed MATCH/i.test(message)) throw invalidQuery("The search engine could not read this query");
    throw err;
  }
}

/** A short, stable fingerprint (FNV-1a, 32 bits, hex) of a search, so a cursor cannot be replayed against another. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}
