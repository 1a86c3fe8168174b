/**
 * A word list as zxcvbn ranks it (the first word has rank 1), held in a few flat objects instead of
 * one property per word.
 *
 * zxcvbn's own ranked dictionaries are plain objects keyed by every word: with the English and
 * common lists that is about 207,000 strings plus their property tables, some 20 MiB and 400,000
 * objects that stay in the isolate for its whole life. The Durable Objects share that isolate, and
 * every major garbage collection walks all of it. Here a list is one string of its words, one array
 * of where each word starts and one open-addressing hash table of ranks: four objects, whatever the
 * list's length, and nothing for the collector to walk inside them.
 */
export class RankedWords {
  /** The length of the longest word (zxcvbn's search width for this list). */
  readonly longest: number;
  private readonly text: string;
  /** `starts[i]` is where the word of rank i + 1 begins in `text`; `starts[n]` is the end. */
  private readonly starts: Int32Array;
  /** Open addressing, linear probing: a word's rank, 0 for an empty slot. */
  private readonly slots: Int32Array;
  private readonly mask: number;

  private constructor(words: readonly string[]) {
    this.text = words.join("");
    this.starts = new Int32Array(words.length + 1);
    let at = 0;
    let longest = 0;
    words.forEach((word, i) => {
      this.starts[i] = at;
      at += word.length;
      longest = Math.max(longest, word.length);
    });
    this.starts[words.length] = at;
    this.longest = longest;
    let capacity = 1;
    while (capacity < words.length * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
    // A word listed twice keeps its later rank, as zxcvbn's object (each assignment overwrites) does.
    words.forEach((word, i) => {
      const slot = this.find(word);
      this.slots[slot] = i + 1;
    });
  }

  /** Index `words` (their order is their rank); refuses an empty list, which would accept anything. */
  static from(words: readonly string[]): RankedWords {
    if (words.length === 0) throw new Error("RankedWords: an empty word list");
    return new RankedWords(words);
  }

  /** The rank of `word`, or undefined when it is not in the list. */
  rank(word: string): number | undefined {
    const rank = this.slots[this.find(word)];
    return rank === 0 ? undefined : rank;
  }

  /**
   * This list in the shape zxcvbn's matcher reads (`word in dictionary`, `dictionary[word]`): a
   * read-only view whose lookups go to `rank`. Listing its keys throws: zxcvbn's Levenshtein
   * option walks every key, and must fail loudly rather than find nothing.
   */
  asDictionary(): Record<string, number> {
    return new Proxy(Object.freeze(Object.create(null)) as Record<string, number>, {
      has: (_target, key) => typeof key === "string" && this.rank(key) !== undefined,
      get: (_target, key) => (typeof key === "string" ? this.rank(key) : undefined),
      ownKeys: () => {
        throw new TypeError("RankedWords: a dictionary view cannot be enumerated");
      },
    });
  }

  /** The slot holding `word`, or the empty slot where it would go. */
  private find(word: string): number {
    let slot = fnv1a(word) & this.mask;
    for (;;) {
      const rank = this.slots[slot]!;
      if (rank === 0 || this.holds(rank, word)) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Whether the word of `rank` is `word` (compared in place, no substring made). */
  private holds(rank: number, word: string): boolean {
    const start = this.starts[rank - 1]!;
    return this.starts[rank]! - start === word.length && this.text.startsWith(word, start);
  }
}

/** 32-bit FNV-1a over UTF-16 code units. */
function fnv1a(s: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) hash = Math.imul(hash ^ s.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
