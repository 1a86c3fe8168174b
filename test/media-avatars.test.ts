import { describe, expect, it } from "vitest";
import { C, createGroup, MISSING } from "./chat-helpers";
import { api, expectError, signUp } from "./helpers";
import { OPAQUE } from "./media-fixtures";
import { avatarFor, fetchContent, getMedia, M, upload } from "./media-helpers";

const patchMe = (token: string, body: unknown) => api("PATCH", "/api/v1/users/me", { token, body });

describe("avatars", () => {
  it("a profile avatar must be my own avatar upload (422 invalid_avatar), and anyone signed in can read it", async () => {
    const [me, other] = await Promise.all([signUp(), signUp()]);
    const theirs = await avatarFor(other);
    const attachment = (await upload(me, OPAQUE)).id;
    for (const id of [theirs, attachment, MISSING]) {
      const err = expectError(await patchMe(me.accessToken, { avatarMediaId: id }), 422, "invalid_avatar");
      expect(err.details).toEqual({ mediaId: id });
    }
    const mine = await avatarFor(me);
    const res = await patchMe(me.accessToken, { avatarMediaId: mine });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.avatarMediaId).toBe(mine);

    const seen = await getMedia(other, mine);
    expect(seen.status).toBe(200);
    expect((await fetchContent(seen.body.url)).status).toBe(200);
  });

  it("a chat avatar must be the changer's own avatar upload", async () => {
    const [owner, member] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(owner, [member]);
    const memberAvatar = await avatarFor(member);
    expectError(
      await api("PATCH", `${C}/${chat.id}`, { token: owner.accessToken, body: { avatarMediaId: memberAvatar } }),
      422,
      "invalid_avatar",
    );
    const ownAvatar = await avatarFor(owner);
    const res = await api("PATCH", `${C}/${chat.id}`, { token: owner.accessToken, body: { avatarMediaId: ownAvatar } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.chat.avatarMediaId).toBe(ownAvatar);
  });

  it("an avatar in use cannot be deleted (409 media_in_use) until it is cleared", async () => {
    const me = await signUp();
    const avatar = await avatarFor(me);
    await patchMe(me.accessToken, { avatarMediaId: avatar });
    const err = expectError(await api("DELETE", `${M}/${avatar}`, { token: me.accessToken }), 409, "media_in_use");
    expect(err.details).toEqual({ usedBy: "profile" });
    await patchMe(me.accessToken, { avatarMediaId: null });

    const chat = await createGroup(me, []);
    await api("PATCH", `${C}/${chat.id}`, { token: me.accessToken, body: { avatarMediaId: avatar } });
    expect(expectError(await api("DELETE", `${M}/${avatar}`, { token: me.accessToken }), 409, "media_in_use").details).toEqual({
      usedBy: "chat",
    });
    await api("PATCH", `${C}/${chat.id}`, { token: me.accessToken, body: { avatarMediaId: null } });
    expect((await api("DELETE", `${M}/${avatar}`, { token: me.accessToken })).status).toBe(204);
  });
});
