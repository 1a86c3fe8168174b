import { describe, expect, it } from "vitest";
import { USERNAME_RE } from "../src/auth/identifiers";
import { detectEntities, MAX_ENTITIES, MAX_HASHTAG_LENGTH, type MessageEntity } from "../src/rooms/entities";
import { MAX_TEXT_LENGTH } from "../src/rooms/protocol";

/** Each entity with the text it covers, cut the way a client cuts it (UTF-16 offsets). */
function spans(text: string): Array<MessageEntity & { text: string }> {
  return detectEntities(text).map((e) => ({ ...e, text: text.slice(e.offset, e.offset + e.length) }));
}

/** Only what a reader sees: kind, covered text and the payload field. */
function brief(text: string): string[][] {
  return spans(text).map((e) => [e.type, e.text, e.url ?? e.username ?? e.tag ?? ""]);
}

/** Sorted by offset, never overlapping, inside the text. */
function expectWellFormed(text: string, entities: MessageEntity[]) {
  let end = 0;
  for (const e of entities) {
    expect(e.offset, JSON.stringify(e)).toBeGreaterThanOrEqual(end);
    expect(e.length).toBeGreaterThan(0);
    end = e.offset + e.length;
  }
  expect(end).toBeLessThanOrEqual(text.length);
}

describe("detectEntities: links", () => {
  it("finds nothing in empty or plain text", () => {
    expect(detectEntities("")).toEqual([]);
    expect(detectEntities("just words, no links here")).toEqual([]);
  });

  it("keeps a link with a scheme whole, fragment and query included, trailing punctuation outside", () => {
    expect(brief("see https://example.com/path?q=1&r=2#frag.")).toEqual([
      ["url", "https://example.com/path?q=1&r=2#frag", "https://example.com/path?q=1&r=2#frag"],
    ]);
    expect(brief("https://x.com/a, http://x.com/b! ftp://x.org/f?")).toEqual([
      ["url", "https://x.com/a", "https://x.com/a"],
      ["url", "http://x.com/b", "http://x.com/b"],
      ["url", "ftp://x.org/f", "ftp://x.org/f"],
    ]);
    expect(spans("HTTPS://Example.COM/Path")[0]!.url).toBe("https://example.com/Path");
  });

  it("adds https:// to bare domains and www. links, using linkify-it's TLD list", () => {
    expect(brief("go to example.com! or www.example.io/docs.")).toEqual([
      ["url", "example.com", "https://example.com/"],
      ["url", "www.example.io/docs", "https://www.example.io/docs"],
    ]);
    // Not links: unknown TLDs without a scheme, file names, versions, bare IPs, protocol-relative.
    expect(detectEntities("example.dev file.txt v1.2.3 10.0.0.1 //example.com")).toEqual([]);
    expect(brief("https://example.dev")).toEqual([["url", "https://example.dev", "https://example.dev/"]]);
  });

  it("balances parentheses and leaves enclosing brackets and quotes out", () => {
    expect(brief("(see https://en.wikipedia.org/wiki/Foo_(bar))")).toEqual([
      ["url", "https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)"],
    ]);
    expect(brief("<https://x.com> 'https://y.com/a' (example.com)").map((e) => e[1])).toEqual([
      "https://x.com",
      "https://y.com/a",
      "example.com",
    ]);
  });

  it("opens internationalized domains by their punycode host", () => {
    expect(brief("пример.рф/путь")).toEqual([["url", "пример.рф/путь", "https://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C"]]);
    expect(brief("https://bücher.de")).toEqual([["url", "https://bücher.de", "https://xn--bcher-kva.de/"]]);
    expect(brief("xn--e1afmkfd.xn--p1ai")).toEqual([["url", "xn--e1afmkfd.xn--p1ai", "https://xn--e1afmkfd.xn--p1ai/"]]);
  });

  it("keeps an @ or #fragment inside a link as part of the link", () => {
    expect(brief("https://example.com/@bob#top and example.com/#tag")).toEqual([
      ["url", "https://example.com/@bob#top", "https://example.com/@bob#top"],
      ["url", "example.com/#tag", "https://example.com/#tag"],
    ]);
  });

  it("links the host the text shows, never a user:password@ prefix", () => {
    const [link] = spans("http://google.com@evil.example.org");
    expect(link!.url).toBe("http://google.com/");
    expect(detectEntities("http://google.com@evil.example.org")).toHaveLength(1);
  });
});

describe("detectEntities: emails", () => {
  it("reports addresses as email entities with a mailto: url, and no mention inside them", () => {
    expect(brief("write to Alice@Example.com.")).toEqual([["email", "Alice@Example.com", "mailto:Alice@example.com"]]);
    expect(brief("mailto:bob@x.org")).toEqual([["email", "mailto:bob@x.org", "mailto:bob@x.org"]]);
    expect(brief("bob@example.com @bob")).toEqual([
      ["email", "bob@example.com", "mailto:bob@example.com"],
      ["mention", "@bob", "bob"],
    ]);
  });

  it("does not report the domain of an address as a link", () => {
    expect(detectEntities("alice@example.com").map((e) => e.type)).toEqual(["email"]);
  });

  it("puts the domain in punycode and percent-encodes what would change the mailto: url", () => {
    expect(brief("user@bücher.de")).toEqual([["email", "user@bücher.de", "mailto:user@xn--bcher-kva.de"]]);
    expect(spans("a#b?c%d@example.com")[0]).toMatchObject({
      type: "email",
      text: "a#b?c%d@example.com",
      url: "mailto:a%23b%3Fc%25d@example.com",
    });
  });
});

describe("detectEntities: mentions", () => {
  it("finds @username with the username lower-cased, and @all", () => {
    expect(brief("@alice hi @Bob_2, ping @ALL!")).toEqual([
      ["mention", "@alice", "alice"],
      ["mention", "@Bob_2", "bob_2"],
      ["mention", "@ALL", "all"],
    ]);
  });

  it("follows the account username rule (auth/identifiers.ts USERNAME_RE) exactly", () => {
    const candidates = ["ab", "abc", "a_b", "___", "a".repeat(32), "a".repeat(33), "Zed", "x9_y", "bob.smith", "bob-smith", "ab1", "12"];
    for (const name of candidates) {
      const mentioned = detectEntities(`hi @${name}`).some((e) => e.type === "mention" && e.length === name.length + 1);
      expect(mentioned, name).toBe(USERNAME_RE.test(name.toLowerCase()));
    }
  });

  it("does not match a partial username or one glued to a word", () => {
    expect(detectEntities(`@${"a".repeat(33)} x@alice café@alice @alicé @ab`)).toEqual([]);
    // Under case-insensitive Unicode matching [a-z] would take the Kelvin sign (U+212A).
    expect(detectEntities("@\u212Aelvin")).toEqual([]);
    expect(brief("(@alice) @bob's @carol.")).toEqual([
      ["mention", "@alice", "alice"],
      ["mention", "@bob", "bob"],
      ["mention", "@carol", "carol"],
    ]);
  });
});

describe("detectEntities: hashtags", () => {
  it("finds Unicode hashtags with the tag lower-cased and without #", () => {
    expect(brief("#café #日本 #tag_2 #Tag #وسم")).toEqual([
      ["hashtag", "#café", "café"],
      ["hashtag", "#日本", "日本"],
      ["hashtag", "#tag_2", "tag_2"],
      ["hashtag", "#Tag", "tag"],
      ["hashtag", "#وسم", "وسم"],
    ]);
  });

  it("keeps combining marks in the tag", () => {
    const text = "#cafe\u0301 ok";
    expect(brief(text)).toEqual([["hashtag", "#cafe\u0301", "cafe\u0301"]]);
  });

  it("needs a letter, a free start and at most 64 characters", () => {
    expect(detectEntities("issue #123 #_ &#39; a#b #")).toEqual([]);
    expect(brief("#2024wrapped ##tag")).toEqual([
      ["hashtag", "#2024wrapped", "2024wrapped"],
      ["hashtag", "#tag", "tag"],
    ]);
    const longest = "日".repeat(MAX_HASHTAG_LENGTH);
    expect(brief(`#${longest}`)).toEqual([["hashtag", `#${longest}`, longest]]);
    expect(detectEntities(`#${"a".repeat(MAX_HASHTAG_LENGTH + 1)}`)).toEqual([]);
  });
});

describe("detectEntities: offsets in UTF-16 code units", () => {
  it("counts emoji (surrogate pairs, ZWJ sequences, flags, skin tones) before an entity", () => {
    const text = "👍🏽 @alice 👨‍👩‍👧 #tag 🇫🇷 example.com 😀@bob 😀 alice@example.com";
    const found = spans(text);
    expect(found.map((e) => e.text)).toEqual(["@alice", "#tag", "example.com", "@bob", "alice@example.com"]);
    expect(found[0]!.offset).toBe(5);
    expectWellFormed(text, found);
  });

  it("counts combining characters and RTL text", () => {
    const text = "e\u0301e\u0301 @alice שלום #עברית مرحبا example.com";
    expect(spans(text).map((e) => [e.offset, e.text])).toEqual([
      [5, "@alice"],
      [17, "#עברית"],
      [30, "example.com"],
    ]);
  });
});

describe("detectEntities: order, overlap and budgets", () => {
  it("sorts mixed entities by offset without overlap", () => {
    const text = "#a1 @bob https://x.com/#a?u=@c mail bob@x.com #b @dan example.com/@e";
    const found = spans(text);
    expect(found.map((e) => [e.type, e.text])).toEqual([
      ["hashtag", "#a1"],
      ["mention", "@bob"],
      ["url", "https://x.com/#a?u=@c"],
      ["email", "bob@x.com"],
      ["hashtag", "#b"],
      ["mention", "@dan"],
      ["url", "example.com/@e"],
    ]);
    expectWellFormed(text, found);
  });

  it("stays well-formed on mixed, punctuation-heavy text", () => {
    const pieces = [" ", ..."@al ice #t ag x.com / @ # . , ( ) 😀 é a@b.io https:// & \u0301".split(" ")];
    let seed = 7;
    for (let n = 0; n < 300; n++) {
      let text = "";
      for (let i = 0; i < 40; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        text += pieces[seed % pieces.length];
      }
      const found = detectEntities(text);
      expectWellFormed(text, found);
      for (const e of found) {
        const covered = text.slice(e.offset, e.offset + e.length);
        if (e.type === "mention") expect(covered.toLowerCase()).toBe(`@${e.username}`);
        if (e.type === "hashtag") expect(covered.toLowerCase()).toBe(`#${e.tag}`);
      }
    }
  });

  it("reports at most MAX_ENTITIES, the first ones", () => {
    const text = Array.from({ length: 150 }, (_, i) => `@user${i}`).join(" ");
    const found = detectEntities(text);
    expect(found).toHaveLength(MAX_ENTITIES);
    expect(found.at(-1)!.username).toBe(`user${MAX_ENTITIES - 1}`);
  });

  it("scans only MAX_TEXT_LENGTH code units and drops an entity cut at that limit", () => {
    const head = "@alice ";
    const text = `${head}${"x".repeat(MAX_TEXT_LENGTH - head.length - 12)} example.com/long/path`;
    expect(brief(text)).toEqual([["mention", "@alice", "alice"]]);
    expect(brief(`${head}${"x".repeat(MAX_TEXT_LENGTH)} @bob`)).toEqual([["mention", "@alice", "alice"]]);
  });

  // workerd stops the clock during synchronous code, so no timing is asserted: catastrophic
  // backtracking would show as this test hitting the runner's timeout.
  it("handles hostile 4096-character texts", () => {
    const hostile = [
      "(".repeat(MAX_TEXT_LENGTH),
      `http://x.com/${"([{".repeat(1360)}`,
      "a.".repeat(MAX_TEXT_LENGTH / 2),
      "a@".repeat(MAX_TEXT_LENGTH / 2),
      "@a.b".repeat(MAX_TEXT_LENGTH / 4),
      "#".repeat(MAX_TEXT_LENGTH),
      "@".repeat(MAX_TEXT_LENGTH),
      "#a".repeat(MAX_TEXT_LENGTH / 2),
      `http://${"a".repeat(MAX_TEXT_LENGTH - 7)}`,
    ];
    for (const text of hostile) expectWellFormed(text, detectEntities(text));
  });
});
