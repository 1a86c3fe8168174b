/** "14:05" today, "Mon 14:05" this week, else the date. */
export function shortTime(iso: string): string {
  const at = new Date(iso);
  const now = new Date();
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (at.toDateString() === now.toDateString()) return time;
  if (now.getTime() - at.getTime() < 6 * 86_400_000) return `${at.toLocaleDateString([], { weekday: "short" })} ${time}`;
  return at.toLocaleDateString();
}

/** "3 minutes ago"-style relative time for lists of sessions and devices. */
export function ago(iso: string): string {
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const format = new Intl.RelativeTimeFormat([], { numeric: "auto" });
  if (seconds < 60) return format.format(-seconds, "second");
  if (seconds < 3600) return format.format(-Math.round(seconds / 60), "minute");
  if (seconds < 86_400) return format.format(-Math.round(seconds / 3600), "hour");
  return format.format(-Math.round(seconds / 86_400), "day");
}

/** A one-line preview of a message for lists (the text, else what kind of message it is). */
export function preview(message: { type: string; text: string | null } | null): string {
  if (!message) return "No messages yet";
  if (message.text) return message.text;
  const kinds: Record<string, string> = { image: "Photo", video: "Video", file: "File", voice: "Voice message", system: "Chat update" };
  return kinds[message.type] ?? message.type;
}

/** Up to two initials for an avatar placeholder. */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] ?? "?") + (parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? "") : "")).toUpperCase();
}
