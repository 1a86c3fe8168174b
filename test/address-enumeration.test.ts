import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  type ApiResponse,
  api,
  expectError,
  latestCode,
  logIn,
  markVerified,
  observable,
  observableShape,
  outbox,
  STRONG_PASSWORD,
  signUp,
  uniqueName,
} from "./helpers";

// No answer tells whether an email or phone has an account: for register, login, forgot-password
// and OTP send, an address another account holds (unverified, or verified) answers exactly like
// one nobody holds: status, body (values that necessarily differ, like ids, reduced to their
// shape) and header names. Timing is not measured here (no timers in unit tests): both paths run
// the same statements (register looks up only the username; the others resolve verified addresses
// only and store a code or count an attempt either way), and `npm run bench -- auth` times both
// and reports their ratio.

const AUTH = "/api/v1/auth";

let phoneCounter = 0;
const uniqueEmail = () => `${uniqueName("e")}@example.com`;
const uniquePhone = () => `+4476${String(++phoneCounter).padStart(3, "0")}${String(Math.floor(Math.random() * 1e5)).padStart(5, "0")}`;

type Kind = "email" | "phone";
const fresh = (kind: Kind) => (kind === "email" ? uniqueEmail() : uniquePhone());
/** A different well-formed code. */
const wrong = (code: string) => String((Number(code) + 1) % 1e6).padStart(6, "0");

/** Three addresses: one an account holds unverified, one an account has verified, one nobody holds. */
async function addresses(kind: Kind) {
  const unverified = fresh(kind);
  const verified = fresh(kind);
  await signUp({ [kind]: unverified });
  await markVerified(await signUp({ [kind]: verified }));
  return { unverified, verified, unused: fresh(kind) };
}

/** The rows the lockout and send limits keep for these keys (the same work leaves the same trace). */
async function counters(keys: string[]) {
  const { results } = await env.DB.prepare(
    `SELECT key, count FROM window_counters WHERE key IN (${keys.map(() => "?").join(", ")}) ORDER BY key`,
  )
    .bind(...keys)
    .all<{ key: string; count: number }>();
  return results.map((r) => r.count);
}

describe.each(["email", "phone"] as const)("a used %s answers like an unused one", (kind) => {
  it("register: 201 with the same user, tokens and session (the address stays unverified)", async () => {
    const { unverified, verified, unused } = await addresses(kind);
    const answers: ApiResponse[] = [];
    for (const address of [unused, unverified, verified]) {
      answers.push(await api("POST", `${AUTH}/register`, { body: { username: uniqueName(), password: STRONG_PASSWORD, [kind]: address } }));
    }
    expect(answers[0]!.status, answers[0]!.text).toBe(201);
    expect(answers[0]!.body.user).toMatchObject({ [kind]: unused, emailVerified: false, phoneVerified: false });
    for (const res of answers.slice(1)) {
      expect(observableShape(res)).toEqual(observableShape(answers[0]!));
      expect(res.body.user).toMatchObject({ emailVerified: false, phoneVerified: false });
    }
  });

  it("login: the same 401 for an unused address and for a held one, even with the holder's password", async () => {
    const { unverified, verified, unused } = await addresses(kind);
    const answers = [await logIn(unused), await logIn(unverified), await logIn(verified, "not-the-right-password-42")];
    expectError(answers[0]!, 401, "invalid_credentials");
    for (const res of answers.slice(1)) {
      expect(observable(res)).toEqual(observable(answers[0]!));
      expect(res.headers.get("RateLimit-Remaining")).toBe(answers[0]!.headers.get("RateLimit-Remaining"));
    }
    // Unused and unverified count against the identifier, like any unknown one.
    expect(await counters([`id:${unused}`, `id:${unverified}`])).toEqual([1, 1]);
  });

  it("forgot-password: the same 202; only the verified owner gets a code", async () => {
    const { unverified, verified, unused } = await addresses(kind);
    const answers: ApiResponse[] = [];
    for (const identifier of [unused, unverified, verified])
      answers.push(await api("POST", `${AUTH}/forgot-password`, { body: { identifier } }));
    expect(answers[0]!.status, answers[0]!.text).toBe(202);
    for (const res of answers.slice(1)) expect(observable(res)).toEqual(observable(answers[0]!));
    expect(await outbox(unverified)).toEqual([]);
    expect((await outbox(verified)).map((m) => m.kind)).toEqual(["password.reset"]);
    expect(await counters([`otp-send:${unused}`, `otp-send:${unverified}`, `otp-send:${verified}`])).toEqual([1, 1, 1]);
  });

  it("OTP send (login): the same 202; only the verified owner gets a code", async () => {
    const { unverified, verified, unused } = await addresses(kind);
    const channel = kind === "email" ? "email" : "sms";
    const answers: ApiResponse[] = [];
    for (const identifier of [unused, unverified, verified]) {
      answers.push(await api("POST", `${AUTH}/otp/send`, { body: { identifier, channel, purpose: "login" } }));
    }
    expect(answers[0]!.status, answers[0]!.text).toBe(202);
    for (const res of answers.slice(1)) expect(observable(res)).toEqual(observable(answers[0]!));
    expect(await outbox(unverified)).toEqual([]);
    expect((await outbox(verified)).map((m) => m.kind)).toEqual(["otp.login"]);
  });

  it("OTP send (verify) for my own address: the same 202 whether or not another account has it", async () => {
    const { unverified, verified } = await addresses(kind);
    const unused = fresh(kind);
    const channel = kind === "email" ? "email" : "sms";
    const answers: ApiResponse[] = [];
    for (const address of [unused, unverified, verified]) {
      const u = await signUp({ [kind]: address });
      answers.push(
        await api("POST", `${AUTH}/otp/send`, { body: { identifier: address, channel, purpose: "verify" }, token: u.accessToken }),
      );
      const code = wrong(await latestCode(address, "otp.verify"));
      answers.push(
        await api("POST", `${AUTH}/otp/verify`, { body: { purpose: "verify", identifier: address, code }, token: u.accessToken }),
      );
    }
    expect(answers[0]!.status, answers[0]!.text).toBe(202);
    expect(expectError(answers[1]!, 400, "invalid_code").details).toEqual({ attemptsLeft: 2 });
    // [send, wrong code] per address: each answer like the unused address's.
    for (let i = 2; i < answers.length; i++) expect(observable(answers[i]!)).toEqual(observable(answers[i % 2]!));
  });
});
