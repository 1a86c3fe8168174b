import { useEffect, useState } from "preact/hooks";

/** The app's screens, from the path (deep links work: the Worker answers every unknown path with index.html). */
export type Route =
  | { name: "home" }
  | { name: "chat"; chatId: string }
  | { name: "search" }
  | { name: "settings"; section: "profile" | "privacy" | "security" | null };

/** The route a path names (unknown paths are the chat list). */
export function parseRoute(path: string): Route {
  const chat = /^\/chats\/([^/]+)\/?$/.exec(path);
  if (chat?.[1]) return { name: "chat", chatId: decodeURIComponent(chat[1]) };
  if (path === "/search") return { name: "search" };
  const settings = /^\/settings(?:\/(profile|privacy|security))?\/?$/.exec(path);
  if (settings) return { name: "settings", section: (settings[1] as "profile" | "privacy" | "security" | undefined) ?? null };
  return { name: "home" };
}

const listeners = new Set<() => void>();
window.addEventListener("popstate", () => {
  for (const listener of listeners) listener();
});

/** Go to `path` in the app (a history entry; `replace` for redirects). */
export function navigate(path: string, { replace = false }: { replace?: boolean } = {}): void {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  for (const listener of listeners) listener();
}

/** The current route, re-rendering on navigation. */
export function useRoute(): Route {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    return () => {
      listeners.delete(update);
    };
  }, []);
  return parseRoute(path);
}

/**
 * Click handler for in-app links (`<a href onClick={link}>`): plain clicks navigate without a
 * reload; modified clicks (new tab, …) keep the browser's behaviour.
 */
export function link(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.pathname);
}
