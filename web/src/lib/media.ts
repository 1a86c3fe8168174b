import { useEffect, useState } from "preact/hooks";
import { client } from "./client";

interface Signed {
  url: string;
  expiresAt: number;
}
const cache = new Map<string, Promise<Signed>>();

/**
 * A URL for a media item's bytes: `GET /media/{id}` answers a URL signed for me (15 minutes), which
 * `<img src>` loads with no token. Cached until a minute before it expires.
 */
export function mediaUrl(mediaId: string): Promise<string> {
  const cached = cache.get(mediaId);
  const fresh = cached?.then((signed) => (signed.expiresAt - Date.now() > 60_000 ? signed : null));
  const load = async (): Promise<Signed> => {
    const item = await client.api.get("/api/v1/media/{id}", { path: { id: mediaId } });
    return { url: item.url, expiresAt: item.urlExpiresAt ? Date.parse(item.urlExpiresAt) : Date.now() + 600_000 };
  };
  const next = (fresh ?? Promise.resolve(null)).then((signed) => signed ?? load());
  const stored = next.catch((err) => {
    cache.delete(mediaId);
    throw err;
  });
  cache.set(mediaId, stored);
  return stored.then((signed) => signed.url);
}

/** The signed URL of a media item once known (null while loading or when it cannot be read). */
export function useMediaUrl(mediaId: string | null | undefined): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!mediaId) return;
    let live = true;
    mediaUrl(mediaId).then(
      (u) => live && setUrl(u),
      () => live && setUrl(null),
    );
    return () => {
      live = false;
    };
  }, [mediaId]);
  return url;
}
