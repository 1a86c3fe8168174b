import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type ApiResponse, api, expectError, latestCode, logIn, markVerified, outbox, signUp, type TestUser, uniqueName } from "./helpers";

// The rule: an email or phone is an account's only once verified. Several accounts may hold the
// same unverified address; at most one may have it verified, and only that one signs in, gets
// codes, resets its password or is found by contact sync with it.

const AUTH = "/api/v1/auth";
const OTHER_PASSWORD = "copper-willow-88-harbor";

let phoneCounter = 0;
const uniqueEmail = () => `${uniqueName("v")}@example.com`;
const uniquePhone = () => `+4479${String(++phoneCounter).padStart(3, "0")}${String(Math.floor(Math.random() * 1e5)).padStart(5, "0")}`;

const send = (body: unknown, token?: string) => api("POST", `${AUTH}/otp/send`, { body, token });
const verify = (body: unknown, token?: string) => api("POST", `${AUTH}/otp/verify`, { body, token });
const me = async (u: TestUser) => (await api("GET", `${AUTH}/me`, { token: u.accessToken })).body.user;

function expectAccepted(res: ApiResponse) {
  expect(res.status, res.text).toBe(202);
  expect(res.body).toEqual({ expiresIn: 300 });
}

type Kind = "email" | "phone";
const channelOf = (kind: Kind) => (kind === "email" ? "email" : "sms");
const fresh = (kind: Kind) => (kind === "email" ? uniqueEmail() : uniquePhone());

/** Ask for a verify code for `identifier` as `u` and return it (read from the dev outbox). */
async function verifyCodeFor(u: TestUser, kind: Kind, identifier: string): Promise<string> {
  expectAccepted(await send({ identifier, channel: channelOf(kind), purpose: "verify" }, u.accessToken));
  return latestCode(identifier, "otp.verify");
}

/** A different well-formed code. */
const wrong = (code: string) => String((Number(code) + 1) % 1e6).padStart(6, "0");

describe.each(["email", "phone"] as const)("verifying an %s another account has verified", (kind) => {
  it(`fails with 409 ${kind}_taken, but only after the right code, and changes nothing`, async () => {
    const address = fresh(kind);
    const owner = await signUp({ [kind]: address });
    await markVerified(owner);
    const late = await signUp({ [kind]: address });

    const code = await verifyCodeFor(late, kind, address);
    // A wrong code answers like for any address: nothing tells whether it is taken.
    const miss = expectError(
      await verify({ purpose: "verify", identifier: address, code: wrong(code) }, late.accessToken),
      400,
      "invalid_code",
    );
    expect(miss.details).toEqual({ attemptsLeft: 2 });

    const taken = expectError(await verify({ purpose: "verify", identifier: address, code }, late.accessToken), 409, `${kind}_taken`);
    expect(taken.message).toMatch(/another account/);
    // The code is used up, the address stays unverified on the late account and verified on the owner's.
    expectError(await verify({ purpose: "verify", identifier: address, code }, late.accessToken), 400, "invalid_code");
    expect(await me(late)).toMatchObject({ [kind]: address, [`${kind}Verified`]: false });
    expect(await me(owner)).toMatchObject({ [kind]: address, [`${kind}Verified`]: true });
    const events = await env.DB.prepare("SELECT COUNT(*) AS n FROM security_events WHERE user_id = ? AND type = ?")
      .bind(late.id, `${kind}_verified`)
      .first<{ n: number }>();
    expect(events!.n).toBe(0);
  });
});

describe("several accounts holding one unverified address", () => {
  it("the first to verify it owns it; one account's verify code neither retires nor spends another's", async () => {
    const address = uniqueEmail();
    const [a, b] = [await signUp({ email: address }), await signUp({ email: address })];

    const codeA = await verifyCodeFor(a, "email", address);
    const codeB = await verifyCodeFor(b, "email", address);
    // A's code is not B's: trying it as B spends a try of B's own code, not of A's.
    if (codeA !== codeB) {
      expect(
        expectError(await verify({ purpose: "verify", identifier: address, code: codeA }, b.accessToken), 400, "invalid_code").details,
      ).toEqual({
        attemptsLeft: 2,
      });
    }
    // B asking later did not retire A's code.
    expect((await verify({ purpose: "verify", identifier: address, code: codeA }, a.accessToken)).status).toBe(204);
    expectError(await verify({ purpose: "verify", identifier: address, code: codeB }, b.accessToken), 409, "email_taken");
    expect((await me(a)).emailVerified).toBe(true);
    expect((await me(b)).emailVerified).toBe(false);
  });

  it("an address the verified owner lets go of (account deleted) can be verified by another holder", async () => {
    const phone = uniquePhone();
    const owner = await signUp({ phone });
    await markVerified(owner);
    const other = await signUp({ phone });
    expect((await api("DELETE", "/api/v1/users/me", { token: owner.accessToken, body: { password: owner.password } })).status).toBe(204);
    const code = await verifyCodeFor(other, "phone", phone);
    expect((await verify({ purpose: "verify", identifier: phone, code }, other.accessToken)).status).toBe(204);
    expect((await me(other)).phoneVerified).toBe(true);
  });
});

describe("signing in, codes and resets reach only the account that verified the address", () => {
  it("password login by email or phone finds the verified holder, never an unverified one", async () => {
    const email = uniqueEmail();
    const phone = uniquePhone();
    const holder = await signUp({ email, phone, password: OTHER_PASSWORD });
    // Unverified: its own right password does not sign it in by the address.
    expectError(await logIn(email, OTHER_PASSWORD), 401, "invalid_credentials");
    expectError(await logIn(phone, OTHER_PASSWORD), 401, "invalid_credentials");
    expect((await logIn(holder.username, OTHER_PASSWORD)).status).toBe(200);

    const owner = await signUp({ email, phone });
    await markVerified(owner);
    for (const identifier of [email, phone]) {
      const res = await logIn(identifier);
      expect(res.status, res.text).toBe(200);
      expect(res.body.user.id).toBe(owner.id);
      expectError(await logIn(identifier, OTHER_PASSWORD), 401, "invalid_credentials");
    }
  });

  it("a login code goes to the verified holder and signs that account in", async () => {
    const email = uniqueEmail();
    await signUp({ email });
    const owner = await signUp({ email });
    await markVerified(owner);
    await signUp({ email });
    expectAccepted(await send({ identifier: email, channel: "email", purpose: "login" }));
    const res = await verify({ purpose: "login", identifier: email, code: await latestCode(email, "otp.login") });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.id).toBe(owner.id);
  });

  it("a reset code goes to the verified holder and resets only that account's password", async () => {
    const phone = uniquePhone();
    const holder = await signUp({ phone, password: OTHER_PASSWORD });
    const owner = await signUp({ phone });
    await markVerified(owner);
    expectAccepted(await api("POST", `${AUTH}/forgot-password`, { body: { identifier: phone } }));
    const newPassword = "amber-quartz-51-meadow-kite";
    const code = await latestCode(phone, "password.reset");
    expect((await api("POST", `${AUTH}/reset-password`, { body: { identifier: phone, code, newPassword } })).status).toBe(204);
    expect((await logIn(owner.username, newPassword)).status).toBe(200);
    expect((await logIn(holder.username, OTHER_PASSWORD)).status).toBe(200);
    expect((await outbox(phone)).filter((m) => m.kind === "password.reset")).toHaveLength(1);
  });

  it("contact sync matches the verified holder only", async () => {
    const phone = uniquePhone();
    const email = uniqueEmail();
    const caller = await signUp();
    const holder = await signUp({ phone, email });
    const owner = await signUp({ phone, email });
    await markVerified(owner);
    await env.DB.prepare("UPDATE users SET privacy_phone = 'everyone', privacy_email = 'everyone' WHERE id IN (?, ?)")
      .bind(holder.id, owner.id)
      .run();
    const res = await api("POST", "/api/v1/users/me/contacts/sync", {
      token: caller.accessToken,
      body: { phones: [phone], emails: [email] },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i: any) => [i.matched, i.userId])).toEqual([
      ["phone", owner.id],
      ["email", owner.id],
    ]);
  });
});
