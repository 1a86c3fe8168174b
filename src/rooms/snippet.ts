/**
 * Search snippets, cut in the room from a hit's text rather than by FTS5's snippet(): FTS5 would
 * have to run the query again for every hit on the page (for a prefix that expands to a hundred
 * words, once per hit), while the room already knows the text and the query. Tokens and matching
 * follow the index's tokenizer closely enough to mark what it matched: runs of letters and digits
 * (Chinese and Japanese one character each), compared without case and accents.
 */

/** A word or phrase of the query: its tokens as the index compares them; the last one a prefix when `prefix`. */
export interface QueryTerm {
  tokens: string[];
  prefix: boolean;
}

/** Tokens a snippet shows at most. */
const SNIPPET_TOKENS = 16;
/** Tokens of context kept before the first match when the text is longer than a snippet. */
const LEAD_TOKENS = 3;

const CJK = "\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}";
const TOKEN_RE = new RegExp(`[${CJK}]|(?:(?![${CJK}])[\\p{L}\\p{N}\\p{M}])+`, "gu");
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** A token as the index compares it: case folded, accents removed (remove_diacritics 2). */
export const normalizeToken = (token: string) => token.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();

/** The tokens of `text` with their UTF-16 spans. */
function tokenize(text: string): { start: number; end: number; norm: string }[] {
  return [...text.matchAll(TOKEN_RE)].map((m) => ({ start: m.index, end: m.index + m[0].length, norm: normalizeToken(m[0]) }));
}

/** `term`'s tokens as the index compares them. */
export const termTokens = (term: string) => tokenize(term).map((t) => t.norm);

/**
 * Up to SNIPPET_TOKENS tokens of `text` around its first match of `terms`, HTML-escaped, each
 * match (a phrase as one) in `<mark>…</mark>`, with `…` where text was left out.
 */
export function buildSnippet(text: string, terms: readonly QueryTerm[]): string {
  const tokens = tokenize(text);
  const marks: [number, number][] = [];
  for (let i = 0; i < tokens.length; i++) {
    for (const term of terms) {
      const n = term.tokens.length;
      if (n === 0 || i + n > tokens.length) continue;
      const hit = term.tokens.every((t, k) => {
        const token = tokens[i + k]!.norm;
        return k === n - 1 && term.prefix ? token.startsWith(t) : token === t;
      });
      if (hit) marks.push([i, i + n]);
    }
  }
  const first = marks.length > 0 ? Math.min(...marks.map(([i]) => i)) : 0;
  const from = Math.max(0, Math.min(first - LEAD_TOKENS, tokens.length - SNIPPET_TOKENS));
  const to = Math.min(tokens.length, from + SNIPPET_TOKENS);
  const start = from === 0 ? 0 : tokens[from]!.start;
  const end = to === tokens.length ? text.length : tokens[to - 1]!.end;
  let out = from > 0 ? "…" : "";
  let at = start;
  for (const [i, j] of merge(marks.filter(([i, j]) => i >= from && j <= to))) {
    out += `${escapeHtml(text.slice(at, tokens[i]!.start))}<mark>${escapeHtml(text.slice(tokens[i]!.start, tokens[j - 1]!.end))}</mark>`;
    at = tokens[j - 1]!.end;
  }
  return out + escapeHtml(text.slice(at, end)) + (to < tokens.length ? "…" : "");
}

/** Token ranges sorted, overlapping ones joined. */
function merge(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [i, j] of sorted) {
    const last = out.at(-1);
    if (last && i < last[1]) last[1] = Math.max(last[1], j);
    else out.push([i, j]);
  }
  return out;
}
