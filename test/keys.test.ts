import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { block, createDirect, history } from "./chat-helpers";
import { api, expectError, logIn, STRONG_PASSWORD, signUp, type TestUser } from "./helpers";
import { b64, curveKeyPair, kyberKey, deviceKeys as upload, xeddsaSign } from "./keys-helpers";

/** The key server: uploads checked byte by byte and signature by signature, bundles handed out once. */

const K = "/api/v1/keys";

const put = (u: TestUser, body: unknown, token = u.accessToken) => api("PUT", K, { token, body });
const count = async (u: TestUser, token = u.accessToken) => (await api("GET", `${K}/count`, { token })).body;
const bundles = (viewer: TestUser, userId: string, device: string | number = "*") =>
  api("GET", `${K}/${userId}/${device}`, { token: viewer.accessToken });
const stored = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM one_time_prekeys WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;

describe("uploading keys", () => {
  it("stores a device's keys and gives each device its number; counts what is left", async () => {
    const alice = await signUp();
    const first = upload();
    const res = await put(alice, first.body);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ deviceId: 1 });
    expect(await count(alice)).toEqual({ count: 3, pqCount: 2 });

    // A second device of the same account: the same identity, its own number.
    const login = await logIn(alice.username, undefined, { deviceId: "alice-laptop" });
    expect(login.status, login.text).toBe(200);
    const laptop = login.body.tokens.accessToken;
    const second = upload(first.identity, { preKeys: 1, pqPreKeys: 0 });
    expect((await put(alice, second.body, laptop)).body).toEqual({ deviceId: 2 });
    expect(await count(alice, laptop)).toEqual({ count: 1, pqCount: 0 });
    // Uploading one-time keys again replaces that kind's stored ones.
    const refill = {
      identityKey: first.body.identityKey,
      registrationId: 4242,
      preKeys: upload(first.identity, { preKeys: 5, firstId: 50 }).body.preKeys,
    };
    expect((await put(alice, refill)).status).toBe(200);
    expect(await count(alice)).toEqual({ count: 5, pqCount: 2 });
  });

  it("refuses wrong lengths, type bytes and signatures with 422 naming the key, and stores nothing", async () => {
    const alice = await signUp();
    const { identity, body } = upload();
    const other = curveKeyPair();
    const cases: [string, (b: any) => void, string, string][] = [
      ["identityKey", (b) => (b.identityKey = b64(identity.publicKey.subarray(0, 32))), "invalid_key", "identityKey"],
      [
        "type byte",
        (b) => (b.signedPreKey.publicKey = b64(Uint8Array.of(0x06, ...curveKeyPair().publicKey.subarray(1)))),
        "invalid_key",
        "signedPreKey.publicKey",
      ],
      [
        "signature by another key",
        (b) =>
          (b.signedPreKey.signature = b64(
            xeddsaSign(
              other.privateKey,
              Uint8Array.from(atob(b.signedPreKey.publicKey), (c) => c.charCodeAt(0)),
            ),
          )),
        "invalid_signature",
        "signedPreKey",
      ],
      ["short signature", (b) => (b.pqLastResortPreKey.signature = b64(new Uint8Array(63))), "invalid_key", "pqLastResortPreKey.signature"],
      ["kyber length", (b) => (b.pqPreKeys[1].publicKey = b64(kyberKey().subarray(0, 1568))), "invalid_key", "pqPreKeys[1].publicKey"],
      ["kyber signature", (b) => (b.pqPreKeys[0].signature = b.pqPreKeys[1].signature), "invalid_signature", "pqPreKeys[0]"],
      ["one-time key", (b) => (b.preKeys[2].publicKey = b64(new Uint8Array(33))), "invalid_key", "preKeys[2].publicKey"],
      ["repeated id", (b) => (b.preKeys[1].keyId = b.preKeys[0].keyId), "invalid_key", "preKeys"],
    ];
    for (const [label, change, code, key] of cases) {
      const broken = structuredClone(body);
      change(broken);
      const error = expectError(await put(alice, broken), 422, code);
      expect(error.details, label).toMatchObject({ key });
    }
    expectError(await put(alice, { ...body, signedPreKey: undefined }), 422, "missing_key");
    expectError(await put(alice, { ...body, identityKey: "not base64!" }), 400, "validation_failed");
    expectError(await put(alice, { ...body, registrationId: 16381 }), 400, "validation_failed");
    expect(await stored(alice.id)).toBe(0);
    expect(await count(alice)).toEqual({ count: 0, pqCount: 0 });
    // A different identity key than the account's is refused.
    expect((await put(alice, body)).status).toBe(200);
    expectError(await put(alice, upload().body), 409, "identity_key_changed");
  });
});

describe("resetting the identity key", () => {
  it("needs resetIdentity; then every device starts over and direct-chat partners are told", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    const { identity, body } = upload();
    await put(alice, body);
    const laptop = (await logIn(alice.username, undefined, { deviceId: "alice-tablet" })).body.tokens.accessToken;
    expect((await put(alice, upload(identity).body, laptop)).body).toEqual({ deviceId: 2 });

    const reinstall = upload();
    expectError(await put(alice, reinstall.body), 409, "identity_key_changed");
    expectError(await put(alice, { ...reinstall.body, resetIdentity: true, signedPreKey: undefined }), 422, "missing_key");
    const reset = await put(alice, { ...reinstall.body, resetIdentity: true });
    expect(reset.status, reset.text).toBe(200);
    expect(reset.body).toEqual({ deviceId: 1 });
    const fetched = await bundles(bob, alice.id);
    expect(fetched.body.identityKey).toBe(reinstall.body.identityKey);
    expect(fetched.body.devices.map((d: any) => d.deviceId)).toEqual([1]);
    // The tablet's keys were signed with the old identity: it must upload again, under the new one.
    expectError(await put(alice, upload(identity).body, laptop), 409, "identity_key_changed");

    const notices = (await history(bob, chat.id, "?limit=50")).body.items.filter((m: any) => m.type === "system");
    expect(notices.map((m: any) => m.system.event)).toContain("identity_changed");
    expect(notices.find((m: any) => m.system.event === "identity_changed").system.actorId).toBe(alice.id);
  });
});

describe("keys go with their device or account", () => {
  it("blocking a device drops its keys; deleting the account drops them all", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { identity, body } = upload();
    await put(alice, body);
    const laptop = (await logIn(alice.username, undefined, { deviceId: "alice-laptop" })).body.tokens.accessToken;
    expect((await put(alice, upload(identity).body, laptop)).body).toEqual({ deviceId: 2 });
    const blocked = await api("POST", `/api/v1/auth/devices/alice-laptop/block`, { token: alice.accessToken });
    expect(blocked.status, blocked.text).toBe(204);
    expect((await api("GET", `${K}/${alice.id}/devices`, { token: bob.accessToken })).body).toEqual({ devices: [1] });
    expectError(await bundles(bob, alice.id, 2), 404, "not_found");

    const deleted = await api("DELETE", "/api/v1/users/me", { token: alice.accessToken, body: { password: STRONG_PASSWORD } });
    expect(deleted.status, deleted.text).toBe(204);
    expectError(await bundles(bob, alice.id), 404, "not_found");
    expect(await stored(alice.id)).toBe(0);
    const left = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM key_devices WHERE user_id = ?1) + (SELECT count(*) FROM identity_keys WHERE user_id = ?1) AS n",
    )
      .bind(alice.id)
      .first<{ n: number }>();
    expect(left!.n).toBe(0);
  });
});

describe("rotating the signed prekey", () => {
  it("replaces it after checking the signature; a device without keys is 404", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const rotate = (u: TestUser, body: unknown) => api("PUT", `${K}/signed`, { token: u.accessToken, body });
    const { identity, body } = upload();
    const fresh = curveKeyPair().publicKey;
    const signed = { keyId: 8, publicKey: b64(fresh), signature: b64(xeddsaSign(identity.privateKey, fresh)) };
    expectError(await rotate(alice, signed), 404, "not_found");
    await put(alice, body);
    const forged = { ...signed, signature: b64(xeddsaSign(curveKeyPair().privateKey, fresh)) };
    expect(expectError(await rotate(alice, forged), 422, "invalid_signature").details).toEqual({ key: "signedPreKey" });
    expect((await rotate(alice, signed)).status).toBe(204);
    expect((await bundles(bob, alice.id, 1)).body.devices[0].signedPreKey).toEqual(signed);
  });
});

describe("fetching bundles", () => {
  it("hands each one-time prekey out once, then null; Kyber one-time keys, then the last-resort one", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { body } = upload(undefined, { preKeys: 2, pqPreKeys: 1 });
    await put(alice, body);
    const fetched = await Promise.all([bundles(bob, alice.id), bundles(bob, alice.id, 1), bundles(bob, alice.id)]);
    for (const res of fetched) expect(res.status, res.text).toBe(200);
    expect(fetched[0]!.body.identityKey).toBe(body.identityKey);
    const preKeys = fetched.map((r) => r.body.devices[0].preKey?.keyId ?? null);
    expect(preKeys.filter((k) => k !== null).sort()).toEqual([1, 2]);
    expect(preKeys.filter((k) => k === null)).toHaveLength(1);
    const pq = fetched.map((r) => r.body.devices[0].pqPreKey.keyId).sort();
    expect(pq).toEqual([101, 900, 900]);
    expect(fetched[0]!.body.devices[0]).toMatchObject({ deviceId: 1, registrationId: 4242, signedPreKey: body.signedPreKey });
    expect(await count(alice)).toEqual({ count: 0, pqCount: 0 });
    expect((await api("GET", `${K}/${alice.id}/devices`, { token: bob.accessToken })).body).toEqual({ devices: [1] });
  });

  it("answers 404 for accounts without keys, unknown devices and blocks either way", async () => {
    const [alice, bob, carol] = await Promise.all([signUp(), signUp(), signUp()]);
    expectError(await bundles(bob, alice.id), 404, "not_found");
    await put(alice, upload().body);
    expectError(await bundles(bob, alice.id, 2), 404, "not_found");
    await block(alice, bob);
    expectError(await bundles(bob, alice.id), 404, "not_found");
    expectError(await api("GET", `${K}/${alice.id}/devices`, { token: bob.accessToken }), 404, "not_found");
    expect((await bundles(carol, alice.id)).status).toBe(200);
    expectError(await bundles(carol, alice.id, "first"), 400, "validation_failed");
  });
});
