import { ApiError, type components, createClient, localStorageTokenStorage, SocketRequestError } from "../../../client";

/** The API's schemas, as the client library types them. */
export type Schemas = components["schemas"];

/** A stable id for this browser (sent as deviceId at sign-in, so sessions and devices list it once). */
function deviceId(): string {
  const key = "edge-messenger.deviceId";
  let id = localStorage.getItem(key);
  if (!id) {
    id = crypto.randomUUID();
    localStorage.setItem(key, id);
  }
  return id;
}

/** The one client of the app: same origin as the page, tokens kept in localStorage (one refresh across tabs). */
export const client = createClient({ baseUrl: location.origin, storage: localStorageTokenStorage() });

/** What every sign-in and sign-up sends about this device. */
export function deviceFields(): { deviceId: string; deviceName: string } {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua)
    ? "Firefox"
    : /Edg\//.test(ua)
      ? "Edge"
      : /Chrom/.test(ua)
        ? "Chromium"
        : /Safari\//.test(ua)
          ? "Safari"
          : "Browser";
  return { deviceId: deviceId(), deviceName: `Web (${browser})` };
}

/** A sentence for the user from any failure (the API's message when it gave one). */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message || err.code;
  if (err instanceof SocketRequestError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
