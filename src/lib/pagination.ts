import { z } from "@hono/zod-openapi";
import { base64url } from "./crypto";
import { AppError } from "./errors";

/** `?limit=` (1–100, default 20) and `?cursor=` as every list route takes them. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  cursor: z.string().max(512).optional().openapi({ description: "nextCursor of the previous page" }),
});

/** An opaque cursor for keyset pagination: the sort key of the last item, base64url JSON. */
export function encodeCursor(key: Record<string, string | number>): string {
  return base64url(new TextEncoder().encode(JSON.stringify(key)));
}

/** Read a cursor made by encodeCursor, checked against the shape the list expects. */
export function decodeCursor<T extends z.ZodType>(cursor: string | undefined, shape: T): z.output<T> | null {
  if (!cursor) return null;
  try {
    const json = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const parsed = shape.safeParse(JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through
  }
  throw new AppError(400, "invalid_cursor", "The cursor is not valid for this list");
}

/** Build a `{items, nextCursor}` page from `limit + 1` fetched rows. */
export function page<Row, Item>(rows: Row[], limit: number, view: (r: Row) => Item, key: (r: Row) => Record<string, string | number>) {
  const hasMore = rows.length > limit;
  const slice = hasMore ? rows.slice(0, limit) : rows;
  return { items: slice.map(view), nextCursor: hasMore ? encodeCursor(key(slice[slice.length - 1]!)) : null };
}

const IdCursor = z.object({ i: z.string().max(64) });

/**
 * A page of rows with UUIDv7 ids, newest first (id order is time order): `load` reads `take` rows
 * with ids below `beforeId` (null: from the newest), on an index ending in the id.
 */
export async function newestFirst<Row extends { id: string }, Item>(
  cursor: string | undefined,
  limit: number,
  load: (beforeId: string | null, take: number) => Promise<Row[]>,
  view: (r: Row) => Item,
) {
  const after = decodeCursor(cursor, IdCursor);
  return page(await load(after?.i ?? null, limit + 1), limit, view, (r) => ({ i: r.id }));
}
