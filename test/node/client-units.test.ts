import { describe, expect, it } from "vitest";
import { backoffDelay, chatCloseAction, localStorageTokenStorage, userCloseAction } from "../../client";
import { ResumableStream } from "../../client/resume";

/** The client library's pure parts, without a server: replay merging, backoff, close codes, storage. */

type Frame = { seq: number; from: "replay" | "live" };
const frame = (seq: number, from: Frame["from"] = "replay"): Frame => ({ seq, from });

function stream(last: number | null) {
  const delivered: number[] = [];
  const s = new ResumableStream<Frame>(
    (f) => f.seq,
    (f) => delivered.push(f.seq),
    last,
  );
  return { s, delivered };
}

describe("ResumableStream", () => {
  it("delivers live frames at once, skipping what it already delivered", () => {
    const { s, delivered } = stream(5);
    for (const seq of [4, 5, 6, 6, 8, 7]) s.receive(frame(seq, "live"));
    expect(delivered).toEqual([6, 8]);
    expect(s.last).toBe(8);
  });

  it("merges a replay with live frames that overtook it: in order, once each", () => {
    const { s, delivered } = stream(10);
    s.hold();
    // Live 14 arrives before the replay of 11..14, then the replay, then live 15.
    for (const f of [frame(14, "live"), frame(11), frame(12), frame(13), frame(14), frame(15, "live")]) s.receive(f);
    expect(delivered).toEqual([]);
    expect(s.settle(true)).toBeNull();
    expect(delivered).toEqual([11, 12, 13, 14, 15]);
    s.receive(frame(16, "live"));
    expect(delivered.at(-1)).toBe(16);
  });

  it("delivers only what a cut-short replay covered and continues after its last frame", () => {
    const { s, delivered } = stream(0);
    s.hold();
    // Live 900 arrived first; the replay (500 a page) brought 1..3 here and stopped, more to come.
    for (const f of [frame(900, "live"), frame(1), frame(2), frame(3)]) s.receive(f);
    expect(s.settle(false)).toBe(3);
    expect(delivered).toEqual([1, 2, 3]);
    expect(s.replaying).toBe(true);
    for (const f of [frame(4), frame(899)]) s.receive(f);
    expect(s.settle(true)).toBeNull();
    expect(delivered).toEqual([1, 2, 3, 4, 899, 900]);
  });

  it("forgets a replay the connection lost, and jumps when the server is too far ahead", () => {
    const { s, delivered } = stream(3);
    s.hold();
    s.receive(frame(4));
    s.abort();
    expect([s.replaying, s.last, delivered]).toEqual([false, 3, []]);
    s.hold();
    s.receive(frame(20_001, "live"));
    s.skipTo(20_000);
    expect([s.last, delivered]).toEqual([20_001, [20_001]]);
  });
});

describe("backoff and close codes", () => {
  it("draws each wait from [0, min(max, initial * 2^attempt))", () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, { ...options, random: () => 0.999999 }))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(5, { ...options, random: () => 0 })).toBe(0);
    const draws = new Set(Array.from({ length: 50 }, () => backoffDelay(3, options)));
    expect(draws.size).toBeGreaterThan(10);
  });

  it("refreshes on an ended session, stops on final codes, reconnects otherwise", () => {
    expect([4005, 4001, 4002, 4004, 4006, 4007, 4008, 1006, 1008, 1009, 1011].map(chatCloseAction)).toEqual([
      "refresh",
      "stop",
      "stop",
      "stop",
      "stop",
      "stop",
      "stop",
      "reconnect",
      "reconnect",
      "reconnect",
      "reconnect",
    ]);
    expect([4005, 4006, 4007, 4008, 4001, 1006].map(userCloseAction)).toEqual([
      "refresh",
      "stop",
      "stop",
      "stop",
      "reconnect",
      "reconnect",
    ]);
  });
});

describe("localStorageTokenStorage", () => {
  it("keeps tokens under its key and ignores what it cannot read", () => {
    const items = new Map<string, string>();
    const storage = {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
      removeItem: (k: string) => void items.delete(k),
    };
    const tokens = localStorageTokenStorage("app.tokens", storage);
    expect(tokens.load()).toBeNull();
    tokens.save({ accessToken: "a", refreshToken: "r", accessExpiresAt: 42 });
    expect(JSON.parse(items.get("app.tokens")!)).toEqual({ accessToken: "a", refreshToken: "r", accessExpiresAt: 42 });
    expect(tokens.load()).toEqual({ accessToken: "a", refreshToken: "r", accessExpiresAt: 42 });
    items.set("app.tokens", "{not json");
    expect(tokens.load()).toBeNull();
    tokens.clear();
    expect(items.has("app.tokens")).toBe(false);
  });
});
