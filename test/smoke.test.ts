import { describe, expect, it } from "vitest";
import { api, signUp } from "./helpers";

describe("smoke", () => {
  it("registers and reads /me", async () => {
    const u = await signUp();
    const me = await api("GET", "/api/v1/auth/me", { token: u.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.user.username).toBe(u.username);
  });
});
