import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, expectError, latestCode, logIn, markVerified, outbox, STRONG_PASSWORD, signUp, uniqueName } from "./helpers";

/**
 * Passwordless sign-up: a code to an email or phone creates the account with that address
 * verified, or signs in to the account that has it; the send step answers and writes alike.
 */

const OTP = "/api/v1/auth/otp";

afterEach(() => {
  vi.useRealTimers();
});
const send = (identifier: string, channel = "email") => api("POST", `${OTP}/send`, { body: { identifier, channel, purpose: "signup" } });
const verify = (identifier: string, code: string, extra: Record<string, unknown> = {}) =>
  api("POST", `${OTP}/verify`, { body: { identifier, code, purpose: "signup", ...extra } });
const accountsWith = async (column: "email" | "phone", value: string) =>
  (await env.DB.prepare(`SELECT count(*) AS n FROM users WHERE ${column} = ?`).bind(value).first<{ n: number }>())!.n;

describe("passwordless sign-up", () => {
  it("a first password needs a sign-in of the last 10 minutes: an old token alone cannot add one", async () => {
    const email = `${uniqueName("late")}@example.com`;
    await send(email);
    const res = await verify(email, await latestCode(email, "otp.signup"));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 11 * 60_000);
    const stale = await api("POST", "/api/v1/auth/set-password", {
      token: res.body.tokens.accessToken,
      body: { newPassword: STRONG_PASSWORD },
    });
    vi.useRealTimers();
    expectError(stale, 403, "reauthentication_required");
    const row = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?")
      .bind(res.body.user.id)
      .first<{ password_hash: string }>();
    expect(row!.password_hash).toBe("");
  });

  it("creates the account with the address verified and a generated username; a password can be added later", async () => {
    const email = `${uniqueName("new")}@example.com`;
    const sent = await send(email);
    expect(sent.status).toBe(202);
    const code = await latestCode(email, "otp.signup");
    const res = await verify(email, code, { deviceName: "Phone" });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ created: true, user: { email }, tokens: { accessToken: expect.any(String) } });
    expect(res.body.user.username).toMatch(/^user_[a-z0-9]{10}$/);
    const row = await env.DB.prepare("SELECT email_verified_at, password_hash FROM users WHERE id = ?")
      .bind(res.body.user.id)
      .first<{ email_verified_at: number | null; password_hash: string }>();
    expect(row!.email_verified_at).not.toBeNull();
    expect(row!.password_hash).toBe("");
    expectError(await verify(email, code), 400, "invalid_code"); // used up

    const token = res.body.tokens.accessToken;
    expectError(await logIn(email, STRONG_PASSWORD), 401, "invalid_credentials");
    expect((await api("POST", "/api/v1/auth/set-password", { token, body: { newPassword: STRONG_PASSWORD } })).status).toBe(204);
    expect((await logIn(email, STRONG_PASSWORD)).status).toBe(200);
    expectError(
      await api("POST", "/api/v1/auth/set-password", { token, body: { newPassword: `${STRONG_PASSWORD}-2` } }),
      409,
      "password_already_set",
    );
  });

  it("signs in to the account that has the address, with the same answer and the same message", async () => {
    const existing = await signUp({ email: `${uniqueName("old")}@example.com` });
    await markVerified(existing);
    const fresh = `${uniqueName("fresh")}@example.com`;
    const [known, unknown] = [await send(existing.email!), await send(fresh)];
    expect([known.status, known.body]).toEqual([unknown.status, unknown.body]);
    const [knownMessage, unknownMessage] = [(await outbox(existing.email!))[0], (await outbox(fresh))[0]];
    expect(knownMessage.text.replace(/\d{6}/, "######")).toBe(unknownMessage.text.replace(/\d{6}/, "######"));
    expect(knownMessage.subject).toBe(unknownMessage.subject);

    const res = await verify(existing.email!, await latestCode(existing.email!, "otp.signup"));
    expect(res.body).toMatchObject({ created: false, user: { id: existing.id } });
    expect(await accountsWith("email", existing.email!)).toBe(1);
  });

  it("an address only written on someone's profile, unverified, belongs to nobody: it signs up a new account", async () => {
    const email = `${uniqueName("typed")}@example.com`;
    const other = await signUp({ email });
    await send(email);
    const res = await verify(email, await latestCode(email, "otp.signup"));
    expect(res.body.created).toBe(true);
    expect(res.body.user.id).not.toBe(other.id);
  });

  it("works by SMS; a wrong code creates nothing; bad input is refused", async () => {
    const phone = `+1415555${String(Math.floor(Math.random() * 10_000)).padStart(4, "0")}`;
    expect((await send(phone, "sms")).status).toBe(202);
    expectError(await verify(phone, "000000"), 400, "invalid_code");
    expect(await accountsWith("phone", phone)).toBe(0);
    const res = await verify(phone, await latestCode(phone, "otp.signup"));
    expect(res.body).toMatchObject({ created: true, user: { phone } });
    expectError(await send("not-an-address"), 400, "channel_mismatch"); // a username cannot receive codes
    expectError(await send(phone, "email"), 400, "channel_mismatch");
    expectError(
      await api("POST", `${OTP}/verify`, { body: { purpose: "signup", identifier: phone, code: "12" } }),
      400,
      "validation_failed",
    );
  });
});
