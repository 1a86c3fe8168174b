import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDb } from "../src/db/client";
import { users } from "../src/db/schema";
import { hubFor } from "../src/hubs/client";
import { OFFLINE_GRACE_MS, ONLINE_LEASE_MS, watchersQuery } from "../src/hubs/presence";
import { addContact, block, queryPlan, setPrivacy } from "./chat-helpers";
import { api, signUp, type TestUser } from "./helpers";
import { openRealtime, runHubAlarmAt, secondDevice } from "./hub-helpers";

/**
 * Presence: online while any device holds a realtime socket, last seen written once the last
 * socket is gone for a grace period, both behind the `lastSeen` privacy setting and blocks, in
 * profiles and in the live `presence` frames watching contacts get on their realtime sockets.
 */

afterEach(() => {
  vi.useRealTimers();
});

const db = () => createDb(env.DB);
const presenceRow = async (userId: string) =>
  (await db().select({ onlineUntil: users.onlineUntil, lastSeenAt: users.lastSeenAt }).from(users).where(eq(users.id, userId)))[0]!;
const profile = async (viewer: TestUser, owner: TestUser) =>
  (await api("GET", `/api/v1/users/${owner.id}`, { token: viewer.accessToken })).body.user as Record<string, unknown>;
/** The hub's own record: when the last socket closed, if it did and none came back. */
const offlineSince = (userId: string) =>
  runInDurableObject(
    hubFor(env, userId),
    (_hub, state) => state.storage.sql.exec<{ offline_since: number | null }>("SELECT offline_since FROM presence").one().offline_since,
  );

describe("online and last seen", () => {
  it("online while a device holds a realtime socket; offline with last seen once the grace after the last close ran out", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    expect(await profile(bob, alice)).toMatchObject({ online: false });
    const connectedAt = Date.now();
    const phone = (await openRealtime(alice.accessToken)).socket;
    const laptop = (await openRealtime((await secondDevice(alice)).tokens.accessToken)).socket;
    const online = await presenceRow(alice.id);
    expect(online.onlineUntil).toBeGreaterThan(Date.now() + ONLINE_LEASE_MS / 2);
    expect(online.lastSeenAt).toBeGreaterThanOrEqual(connectedAt);
    expect(await profile(bob, alice)).toMatchObject({ online: true });

    phone.close();
    await phone.closedWith();
    expect(await offlineSince(alice.id)).toBeNull(); // the laptop is still there
    laptop.close();
    await laptop.closedWith();
    const since = (await offlineSince(alice.id))!;
    expect(since).toBeGreaterThanOrEqual(connectedAt);
    // Within the grace nothing is written: a reconnect now would tell nobody.
    expect(await presenceRow(alice.id)).toEqual(online);
    expect(await profile(bob, alice)).toMatchObject({ online: true });

    await runHubAlarmAt(alice.id, since + OFFLINE_GRACE_MS);
    vi.useRealTimers();
    expect(await presenceRow(alice.id)).toEqual({ onlineUntil: null, lastSeenAt: since });
    expect(await profile(bob, alice)).toMatchObject({ online: false, lastSeenAt: new Date(since).toISOString() });
  });

  it("a device that reconnects within the grace writes nothing, and the lease is renewed halfway", async () => {
    const alice = await signUp();
    const first = (await openRealtime(alice.accessToken)).socket;
    const written = await presenceRow(alice.id);
    first.close();
    await first.closedWith();
    const since = (await offlineSince(alice.id))!;
    const again = (await openRealtime(alice.accessToken)).socket;
    expect(await offlineSince(alice.id)).toBeNull();
    await runHubAlarmAt(alice.id, since + OFFLINE_GRACE_MS);
    expect(await presenceRow(alice.id)).toEqual(written);

    const renewAt = written.lastSeenAt! + ONLINE_LEASE_MS / 2;
    await runHubAlarmAt(alice.id, renewAt);
    expect(await presenceRow(alice.id)).toEqual({ onlineUntil: renewAt + ONLINE_LEASE_MS, lastSeenAt: renewAt });
    again.close();
  });

  it("a lease nobody renewed (a hub that lost its sockets) no longer counts as online", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const socket = (await openRealtime(alice.accessToken)).socket;
    const { onlineUntil } = await presenceRow(alice.id);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(onlineUntil! + 1);
    expect(await profile(bob, alice)).toMatchObject({ online: false });
    vi.useRealTimers();
    socket.close();
  });

  it("signing out closes the session's realtime socket, and the user goes offline after the grace", async () => {
    const alice = await signUp();
    const { socket } = await openRealtime(alice.accessToken);
    expect((await api("POST", "/api/v1/auth/logout", { token: alice.accessToken })).status).toBe(204);
    await socket.closedWith();
    const since = (await offlineSince(alice.id))!;
    expect(since).not.toBeNull();
    await runHubAlarmAt(alice.id, since + OFFLINE_GRACE_MS);
    expect((await presenceRow(alice.id)).onlineUntil).toBeNull();
  });
});

describe("privacy", () => {
  it("profiles follow the lastSeen setting and blocks", async () => {
    const [alice, bob, carol] = await Promise.all([signUp(), signUp(), signUp()]);
    const socket = (await openRealtime(alice.accessToken)).socket;
    await setPrivacy(alice, { lastSeen: "contacts" });
    await addContact(alice, carol);
    expect(await profile(bob, alice)).not.toHaveProperty("online");
    expect(await profile(bob, alice)).not.toHaveProperty("lastSeenAt");
    expect(await profile(carol, alice)).toMatchObject({ online: true });
    await block(alice, carol);
    expect(await profile(carol, alice)).not.toHaveProperty("online");
    socket.close();
  });
});

describe("contact presence frames", () => {
  it("contacts watching on their realtime sockets hear online, then offline with last seen; others hear nothing", async () => {
    const [alice, bob, carol] = await Promise.all([signUp(), signUp(), signUp()]);
    await addContact(bob, alice);
    const bobs = (await openRealtime(bob.accessToken)).socket;
    const carols = (await openRealtime(carol.accessToken)).socket;
    const alices = (await openRealtime(alice.accessToken)).socket;
    expect(await bobs.nextPresence(alice.id, true)).toEqual({ userId: alice.id, online: true });
    alices.close();
    await alices.closedWith();
    const since = (await offlineSince(alice.id))!;
    await runHubAlarmAt(alice.id, since + OFFLINE_GRACE_MS);
    vi.useRealTimers();
    expect(await bobs.nextPresence(alice.id, false)).toEqual({
      userId: alice.id,
      online: false,
      lastSeenAt: new Date(since).toISOString(),
    });
    expect(await carols.request({ type: "ping" })).toMatchObject({ pong: true });
    expect(carols.presenceOf(alice.id)).toEqual([]);
    bobs.close();
    carols.close();
  });

  it("a privacy change, a new contact and a block are told at once; hidden means offline with no time", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    await addContact(bob, alice);
    const bobs = (await openRealtime(bob.accessToken)).socket;
    const alices = (await openRealtime(alice.accessToken)).socket;
    await bobs.nextPresence(alice.id, true);

    let mark = bobs.frames.length;
    await setPrivacy(alice, { lastSeen: "contacts" }); // bob is not among alice's contacts
    expect(await bobs.nextPresence(alice.id, false, mark)).toEqual({ userId: alice.id, online: false });

    mark = bobs.frames.length;
    await addContact(alice, bob);
    expect(await bobs.nextPresence(alice.id, true, mark)).toEqual({ userId: alice.id, online: true });

    mark = bobs.frames.length;
    await block(alice, bob);
    expect(await bobs.nextPresence(alice.id, false, mark)).toEqual({ userId: alice.id, online: false });
    alices.close();
    bobs.close();
  });

  it("a watcher the setting hides it from hears nothing of transitions, not even their timing", async () => {
    const [alice, bob, carol] = await Promise.all([signUp(), signUp(), signUp()]);
    await Promise.all([addContact(bob, alice), addContact(carol, alice), addContact(alice, carol)]);
    await setPrivacy(alice, { lastSeen: "contacts" }); // carol may see alice, bob may not
    const bobs = (await openRealtime(bob.accessToken)).socket;
    const carols = (await openRealtime(carol.accessToken)).socket;
    const alices = (await openRealtime(alice.accessToken)).socket;
    await carols.nextPresence(alice.id, true);
    alices.close();
    await alices.closedWith();
    await runHubAlarmAt(alice.id, (await offlineSince(alice.id))! + OFFLINE_GRACE_MS);
    vi.useRealTimers();
    await carols.nextPresence(alice.id, false);
    // Had bob been told, it would have been in the same fan-out as carol, already done.
    expect(await bobs.request({ type: "ping" })).toMatchObject({ pong: true });
    expect(bobs.presenceOf(alice.id)).toEqual([]);
    bobs.close();
    carols.close();
  });

  it("someone who blocked a user sees no presence of them on the profile either", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const socket = (await openRealtime(alice.accessToken)).socket;
    await block(bob, alice);
    expect(await profile(bob, alice)).not.toHaveProperty("online");
    socket.close();
  });

  it("finds the watchers on the contacts index, not by scanning", async () => {
    const plan = await queryPlan(watchersQuery(db(), crypto.randomUUID(), Date.now()));
    expect(plan.join("\n")).toMatch(/contacts USING (COVERING )?INDEX contacts_contact_idx/);
    expect(plan.join("\n")).not.toMatch(/SCAN contacts/);
  });
});
