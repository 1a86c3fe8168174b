import { AppError } from "../lib/errors";
import { type QueryTerm, termTokens } from "./snippet";

/** At most this many words and phrases in one query. */
export const MAX_QUERY_TERMS = 16;

/**
 * Han, Hiragana and Katakana: scripts written without spaces between words. The unicode61
 * tokenizer would take a whole run of them as one token (so 東京 would not find 東京タワー), so
 * each of their characters is indexed as a token of its own, and a query's run of them becomes a
 * phrase of those characters in order: substring search, which is what Chinese and Japanese
 * readers expect from a chat search. Hangul is written with spaces and left to the tokenizer.
 */
const CJK_RE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/gu;
/** What separates those characters in the index: ZERO WIDTH SPACE, a separator to unicode61. */
export const CJK_SEPARATOR = "\u200b";
const HAS_WORD_RE = /[\p{L}\p{N}]/u;

/** Text as the index stores it: CJK characters split apart (see CJK_RE). */
export function indexableText(text: string): string {
  return text.replaceAll(CJK_SEPARATOR, " ").replace(CJK_RE, (c) => `${CJK_SEPARATOR}${c}${CJK_SEPARATOR}`);
}

/**
 * A search query made safe for FTS5 MATCH. The syntax people type into a search box: words (every
 * one must occur, accents and case ignored), `"quoted phrases"` (in that order), a trailing `*`
 * for a prefix (`deploy*`), and `OR` between two of them. Every word and phrase is passed quoted,
 * so no other FTS5 syntax (columns, NEAR, parentheses) gets through; an unbalanced quote, a
 * dangling `OR`, or nothing searchable is `400 invalid_query`.
 */
export function toMatchExpression(q: string): string {
  return parseQuery(q).match;
}

/** The query as FTS5 runs it (`match`, see toMatchExpression) and as snippets mark it (`terms`). */
export function parseQuery(q: string): { match: string; terms: QueryTerm[] } {
  const terms: QueryTerm[] = [];
  // Each entry is a word or phrase with whatever OR joined to it (grouped: FTS5's AND binds tighter than OR).
  const alternatives: string[][] = [];
  let pendingOr = false;
  const push = (term: string, prefix: boolean) => {
    if (!HAS_WORD_RE.test(term)) return;
    const quoted = `"${indexableText(term).replaceAll('"', "")}"${prefix ? "*" : ""}`;
    terms.push({ tokens: termTokens(term), prefix });
    if (pendingOr) alternatives[alternatives.length - 1]!.push(quoted);
    else alternatives.push([quoted]);
    pendingOr = false;
  };
  const re = /"([^"]*)"(\*?)|(\S+)/g;
  if ((q.match(/"/g) ?? []).length % 2 !== 0) throw invalidQuery("A quoted phrase is not closed");
  for (const m of q.matchAll(re)) {
    if (m[3] === "OR") {
      if (alternatives.length === 0 || pendingOr) throw invalidQuery("OR needs a word or phrase on each side");
      pendingOr = true;
      continue;
    }
    if (m[1] !== undefined) push(m[1], m[2] === "*");
    else {
      const word = m[3]!;
      push(word.endsWith("*") ? word.slice(0, -1) : word, word.endsWith("*"));
    }
  }
  if (pendingOr) throw invalidQuery("OR needs a word or phrase on each side");
  if (alternatives.length === 0) throw invalidQuery("The query needs at least one letter or digit");
  if (alternatives.flat().length > MAX_QUERY_TERMS) throw invalidQuery(`At most ${MAX_QUERY_TERMS} words or phrases`);
  // An explicit AND: FTS5 takes the implicit one between phrases only, not next to a parenthesised group.
  return { match: alternatives.map((a) => (a.length === 1 ? a[0] : `(${a.join(" OR ")})`)).join(" AND "), terms };
}

/** `400 invalid_query`, with the reason. */
export function invalidQuery(message: string): AppError {
  return new AppError(400, "invalid_query", message, [{ path: "query.q", code: "invalid_query", message }]);
}
