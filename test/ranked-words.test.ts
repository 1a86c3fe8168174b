import { describe, expect, it } from "vitest";
import { RankedWords } from "../src/auth/ranked-words";

describe("RankedWords", () => {
  it("ranks words by their place in the list, from 1", () => {
    const words = RankedWords.from(["alpha", "beta", "gamma"]);
    expect([words.rank("alpha"), words.rank("beta"), words.rank("gamma")]).toEqual([1, 2, 3]);
    expect(words.rank("delta")).toBeUndefined();
    expect(words.rank("alph")).toBeUndefined(); // a prefix of a word
    expect(words.rank("alphab")).toBeUndefined(); // a word and the next one's first letter
    expect(words.rank("")).toBeUndefined();
    expect(words.longest).toBe(5);
  });

  it("keeps the later rank of a word listed twice, as zxcvbn's own dictionary does", () => {
    expect(RankedWords.from(["x", "dup", "y", "dup"]).rank("dup")).toBe(4);
  });

  it("finds every word of a long list, past hash collisions", () => {
    const list = Array.from({ length: 20_000 }, (_, i) => `w${(i * 7919).toString(36)}`);
    const words = RankedWords.from(list);
    list.forEach((word, i) => {
      expect(words.rank(word)).toBe(i + 1);
    });
    expect(words.rank("w-none")).toBeUndefined();
  });

  it("answers zxcvbn's `in` and property reads through its dictionary view", () => {
    const view = RankedWords.from(["toString", "smith"]).asDictionary();
    expect("smith" in view).toBe(true);
    expect(view.smith).toBe(2);
    expect(view.toString).toBe(1); // a listed word, not Object.prototype's method
    expect("constructor" in view).toBe(false);
    expect(view.constructor).toBeUndefined();
    expect(Symbol.iterator in view).toBe(false);
    expect(() => {
      view.smith = 9;
    }).toThrow(TypeError);
    expect(view.smith).toBe(2);
    expect(() => Object.keys(view)).toThrow(/cannot be enumerated/);
  });

  it("refuses an empty list, which would count nothing as guessable", () => {
    expect(() => RankedWords.from([])).toThrow(/empty/);
  });
});
