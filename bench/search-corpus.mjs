// The search bench's text: a deterministic corpus of made-up words with Zipf frequencies, so
// every run searches the same messages and knows how many match each query.

export const VOCABULARY = 3_000;
export const RARE_WORD = "zanthoxylum"; // not in the vocabulary: put into a chosen few messages only

/** Deterministic PRNG (mulberry32), so every run searches the same text. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Made-up words of 1–4 syllables, in a random order that is then their frequency rank (Zipf, s = 1). */
export function vocabulary(random) {
  const onsets = ["", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "ch", "sh"];
  const vowels = ["a", "e", "i", "o", "u", "ai", "ou"];
  const codas = ["", "", "", "n", "r", "s", "l", "m", "b", "t"];
  const pick = (list) => list[Math.floor(random() * list.length)];
  const words = new Set();
  while (words.size < VOCABULARY) {
    const syllables = 1 + Math.floor(random() * 4);
    let w = "";
    for (let i = 0; i < syllables; i++) w += pick(onsets) + pick(vowels) + pick(codas);
    if (w.length >= 3 && w !== RARE_WORD) words.add(w);
  }
  return [...words];
}

/** A Zipf sampler over `words` (rank i has weight 1/(i+1)). */
export function zipf(words, random) {
  const cumulative = [];
  let sum = 0;
  for (let i = 0; i < words.length; i++) {
    sum += 1 / (i + 1);
    cumulative.push(sum);
  }
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return words[lo];
  };
}

/** `count` message texts of 5–30 words, some capitalised and punctuated; `rare` of them carry RARE_WORD. */
export function corpus(count, word, random, rare) {
  const rareAt = new Set();
  while (rareAt.size < rare) rareAt.add(Math.floor(random() * count));
  const texts = [];
  for (let i = 0; i < count; i++) {
    const n = 5 + Math.floor(random() * 26);
    const words = Array.from({ length: n }, () => word());
    if (rareAt.has(i)) words[Math.floor(random() * n)] = RARE_WORD;
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    const punct = random();
    texts.push(words.join(" ") + (punct < 0.6 ? "." : punct < 0.8 ? "?" : punct < 0.9 ? "!" : ""));
  }
  return texts;
}

/** How many texts match, as FTS5 would (lower-cased words, split at non-letters). */
export function countMatches(texts, test) {
  let n = 0;
  for (const t of texts)
    if (
      test(
        t
          .toLowerCase()
          .split(/[^a-z]+/)
          .filter(Boolean),
      )
    )
      n++;
  return n;
}
