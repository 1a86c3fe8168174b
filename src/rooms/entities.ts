import { LinkifyIt, type Match } from "linkify-it";
import { MAX_TEXT_LENGTH } from "./protocol";

/**
 * One highlighted span of a message's text. `offset` and `length` count UTF-16 code units, the
 * unit JavaScript strings, Swift's NSString and Kotlin/Java strings index by, so a client cuts
 * `text.slice(offset, offset + length)` without converting.
 *
 * - `url`: a link; `url` is what to open (scheme added to bare domains, host in ASCII/punycode).
 * - `email`: an address; `url` is its `mailto:` link.
 * - `mention`: `@username`; `username` is lower-cased, without the `@` (`all` for `@all`).
 * - `hashtag`: `#tag`; `tag` is lower-cased, without the `#`.
 */
export interface MessageEntity {
  type: "url" | "email" | "mention" | "hashtag";
  offset: number;
  length: number;
  url?: string;
  username?: string;
  tag?: string;
}

/** Entities reported for one message at most (the first ones by offset). */
export const MAX_ENTITIES = 100;
/** Longest hashtag, in characters (code points) after the `#`; a longer run is no hashtag at all. */
export const MAX_HASHTAG_LENGTH = 64;

/**
 * Links and emails. `fuzzyLink` finds bare domains (`example.com`, `www.example.io`) as messengers
 * do, limited to linkify-it's own TLD list (every two-letter country code, com/net/org/info/…, `рф`
 * and any punycode `xn--` zone), so `file.txt` or `v1.2.3` stay text. Not enabled: bare IPs
 * (version numbers), `user:password@` in URLs (so the linked text is the host it opens, never a decoy) and
 * protocol-relative `//host` (nothing a client can open).
 */
const linkify = new LinkifyIt({ fuzzyLink: true, fuzzyEmail: true, fuzzyIP: false, urlAuth: false }).add("//", null);

/**
 * A letter, combining mark, decimal digit or underscore in any script: what a mention or hashtag
 * may not directly follow (so `alice@example.com` holds no mention), and what a hashtag is made of.
 */
const WORD = String.raw`\p{L}\p{M}\p{Nd}_`;

/**
 * `@username`: the same rule as account usernames (auth/identifiers.ts `USERNAME_RE`: 3–32 of
 * a–z, 0–9 and _, input lower-cased), restated here because rooms sits below auth; a test pins the
 * two together. ASCII classes without the `i` flag: under `iu`, [a-z] would also match the Kelvin
 * sign and the long s. A longer run is no mention (no partial match), and `@all` fits the rule.
 */
const MENTION_RE = new RegExp(`(?<![${WORD}])@([A-Za-z0-9_]{3,32})(?![${WORD}])`, "gu");

/** `#tag` not right after a word character or `&` (`&#39;` is an HTML entity, not a tag). */
const HASHTAG_RE = new RegExp(`(?<![${WORD}&])#([${WORD}]+)`, "gu");
const LETTER_RE = /\p{L}/u;

/**
 * The entities of a message's text, sorted by offset and never overlapping: links and emails
 * first (linkify-it: trailing punctuation and unbalanced brackets stay outside), then mentions
 * and hashtags in the text between them, so an `@` or `#fragment` inside a link is part of the
 * link. At most MAX_ENTITIES. Text past MAX_TEXT_LENGTH (which the send schemas refuse) is not
 * scanned, and an entity cut by that limit is dropped.
 */
export function detectEntities(text: string): MessageEntity[] {
  const truncated = text.length > MAX_TEXT_LENGTH;
  const scanned = truncated ? text.slice(0, MAX_TEXT_LENGTH) : text;
  if (scanned.length === 0) return [];

  const found: MessageEntity[] = (linkify.match(scanned) ?? []).map(linkEntity).filter((e) => e !== null);
  // Code units covered by a link: a mention or hashtag touching one belongs to the link.
  const inLink = new Uint8Array(scanned.length);
  for (const link of found) inLink.fill(1, link.offset, link.offset + link.length);
  const outsideLinks = (m: RegExpExecArray) => !inLink.subarray(m.index, m.index + m[0].length).includes(1);

  for (const m of scanned.matchAll(MENTION_RE)) {
    if (outsideLinks(m)) found.push({ type: "mention", offset: m.index, length: m[0].length, username: m[1]!.toLowerCase() });
  }
  for (const m of scanned.matchAll(HASHTAG_RE)) {
    const tag = m[1]!;
    if ([...tag].length > MAX_HASHTAG_LENGTH || !LETTER_RE.test(tag) || !outsideLinks(m)) continue;
    found.push({ type: "hashtag", offset: m.index, length: m[0].length, tag: tag.toLowerCase() });
  }

  found.sort((a, b) => a.offset - b.offset);
  const entities: MessageEntity[] = [];
  let end = 0;
  for (const e of found) {
    if (entities.length === MAX_ENTITIES) break;
    const eEnd = e.offset + e.length;
    // Never overlapping (kept as a guarantee), and nothing the length cap may have cut short.
    if (e.offset < end || (truncated && eEnd === scanned.length)) continue;
    entities.push(e);
    end = eEnd;
  }
  return entities;
}

/** A linkify-it match as an entity, or null when its target is no URL a client could open. */
function linkEntity(m: Match): MessageEntity | null {
  const span = { offset: m.index, length: m.lastIndex - m.index };
  if (m.schema === "mailto:") {
    const url = mailtoUrl(m.raw.replace(/^mailto:/i, ""));
    return url ? { type: "email", ...span, url } : null;
  }
  // Fuzzy links (no scheme in the text) open over https; the URL parser then puts the host in
  // ASCII (IDN to punycode, lower case) and percent-encodes the rest, which every client accepts.
  const url = parseUrl(m.schema ? m.raw : `https://${m.raw}`);
  return url ? { type: "url", ...span, url: url.href } : null;
}

/**
 * `mailto:` for an address: the domain in ASCII (punycode), the local part percent-encoded where
 * RFC 6068 wants it (`%`, `?`, `#`, `&`, `=`, `/` and the like would otherwise change the URL).
 */
function mailtoUrl(address: string): string | null {
  const at = address.lastIndexOf("@");
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  const host = domain.startsWith("[") ? domain : parseUrl(`https://${domain}`)?.hostname;
  if (!host) return null;
  const encoded = local.replace(/[^A-Za-z0-9\-._~!$'()*+,;:]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
  return `mailto:${encoded}@${host}`;
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}
