import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { asBot, createBot } from "./bot-helpers";
import { api, expectError, expectInvalid, latestCode, signUp, uniqueName } from "./helpers";

/**
 * An account made by a one-time code has no password: deleting or deactivating it takes a fresh
 * sign-in instead, and a one-time code with `reactivate: true` switches it on again.
 */

const OTP = "/api/v1/auth/otp";

afterEach(() => {
  vi.useRealTimers();
});

/** A new passwordless account: its address, id and access token. */
async function passwordless() {
  const email = `${uniqueName("nopw")}@example.com`;
  await api("POST", `${OTP}/send`, { body: { identifier: email, channel: "email", purpose: "signup" } });
  const code = await latestCode(email, "otp.signup");
  const res = await api("POST", `${OTP}/verify`, { body: { identifier: email, code, purpose: "signup" } });
  expect(res.status, res.text).toBe(200);
  return { email, id: res.body.user.id as string, token: res.body.tokens.accessToken as string };
}

const statusOf = async (id: string) =>
  (await env.DB.prepare("SELECT status FROM users WHERE id = ?").bind(id).first<{ status: string }>())!.status;

/** Move the clock past the 10 minutes a sign-in counts as fresh (the access token lives 15). */
function elevenMinutesLater() {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() + 11 * 60_000);
}

describe("ownership without a password", () => {
  it("a fresh sign-in deletes the account without a password", async () => {
    const me = await passwordless();
    const res = await api("DELETE", "/api/v1/users/me", { token: me.token, body: {} });
    expect(res.status, res.text).toBe(204);
    expect(await statusOf(me.id)).toBe("deleted");
  });

  it("an older sign-in is refused and nothing changes", async () => {
    const me = await passwordless();
    elevenMinutesLater();
    expectError(await api("DELETE", "/api/v1/users/me", { token: me.token, body: {} }), 403, "reauthentication_required");
    expectError(await api("POST", "/api/v1/users/me/deactivate", { token: me.token, body: {} }), 403, "reauthentication_required");
    vi.useRealTimers();
    expect(await statusOf(me.id)).toBe("active");
  });

  it("an account with a password still needs it", async () => {
    const user = await signUp();
    expectInvalid(await api("DELETE", "/api/v1/users/me", { token: user.accessToken, body: {} }), "body.password");
    expect(await statusOf(user.id)).toBe("active");
  });

  it("deactivates, then a one-time code signs in again only with reactivate: true", async () => {
    const me = await passwordless();
    expect((await api("POST", "/api/v1/users/me/deactivate", { token: me.token, body: {} })).status).toBe(204);
    expect(await statusOf(me.id)).toBe("deactivated");

    const login = async (extra: Record<string, unknown>) => {
      await api("POST", `${OTP}/send`, { body: { identifier: me.email, channel: "email", purpose: "login" } });
      const code = await latestCode(me.email, "otp.login");
      return api("POST", `${OTP}/verify`, { body: { identifier: me.email, code, purpose: "login", ...extra } });
    };
    expectError(await login({}), 403, "account_deactivated");
    expect(await statusOf(me.id)).toBe("deactivated");
    const back = await login({ reactivate: true });
    expect(back.status, back.text).toBe(200);
    expect(back.body.user.id).toBe(me.id);
    expect(await statusOf(me.id)).toBe("active");
  });

  it("an account with nothing to sign in with again cannot deactivate itself; a bot is refused", async () => {
    const guest = await api("POST", "/api/v1/auth/guest", { body: {} });
    expect(guest.status, guest.text).toBe(201);
    const guestToken = guest.body.tokens.accessToken;
    expectError(await api("POST", "/api/v1/users/me/deactivate", { token: guestToken, body: {} }), 409, "cannot_reactivate");
    expect(await statusOf(guest.body.user.id)).toBe("active");
    const me = await passwordless();
    await env.DB.prepare("UPDATE users SET email_verified_at = NULL WHERE id = ?").bind(me.id).run();
    expectError(await api("POST", "/api/v1/users/me/deactivate", { token: me.token, body: {} }), 409, "cannot_reactivate");
    expect(await statusOf(me.id)).toBe("active");
    const bot = await createBot();
    expectError(await asBot(bot.token, "POST", "/api/v1/users/me/deactivate", { body: {} }), 403, "bot_not_allowed");
  });
});
