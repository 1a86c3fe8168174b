/** A signed-in session's tokens, as the client keeps them. */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (ms since the epoch, by this device's clock). */
  accessExpiresAt: number;
}

/**
 * Where the client keeps its tokens between calls and page loads. Methods may be synchronous or
 * return promises (an encrypted store, a native keychain bridge).
 */
export interface TokenStorage {
  load(): StoredTokens | null | Promise<StoredTokens | null>;
  save(tokens: StoredTokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

/** Tokens in memory only: gone with the page or process (tests, short-lived scripts, the most cautious apps). */
export function memoryTokenStorage(initial: StoredTokens | null = null): TokenStorage {
  let tokens = initial;
  return {
    load: () => tokens,
    save: (next) => {
      tokens = next;
    },
    clear: () => {
      tokens = null;
    },
  };
}

/** The part of the Web Storage API (`localStorage`, `sessionStorage`) the client uses. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Tokens in `localStorage` under `key` (or another Web Storage, e.g. `sessionStorage` for one tab),
 * so a reload stays signed in and every tab shares one session. Tabs refresh one at a time through
 * the Web Locks API (auth.ts), and each reads what another tab saved. Anything script on the page
 * can read localStorage: it is as safe as the page is free of injected script.
 */
export function localStorageTokenStorage(key = "edge-messenger.tokens", storage?: KeyValueStorage): TokenStorage {
  const store = () => {
    const found = storage ?? (globalThis as { localStorage?: KeyValueStorage }).localStorage;
    if (!found) throw new Error("localStorage is not available here: pass a storage");
    return found;
  };
  return {
    load: () => {
      const text = store().getItem(key);
      if (!text) return null;
      try {
        const parsed = JSON.parse(text) as Partial<StoredTokens>;
        if (typeof parsed.accessToken !== "string" || typeof parsed.refreshToken !== "string") return null;
        return { accessToken: parsed.accessToken, refreshToken: parsed.refreshToken, accessExpiresAt: Number(parsed.accessExpiresAt) || 0 };
      } catch {
        return null;
      }
    },
    save: (tokens) => store().setItem(key, JSON.stringify(tokens)),
    clear: () => store().removeItem(key),
  };
}
