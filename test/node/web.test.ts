import { existsSync } from "node:fs";
import { Secret, TOTP } from "otpauth";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../bench/server.mjs";
import { PASSWORD } from "./api";
import { type BrowserUser, launchChromium, messageTexts, messageWith, PHONE, pngImage, screenshot, signUpInBrowser } from "./web-helpers";

/**
 * The web app (web/, built into the Worker's static assets) in Debian's Chromium, driven by
 * playwright-core against a real `wrangler dev`: two people sign up, chat live (replies, reactions,
 * an image), one goes offline and catches up with nothing lost; /docs renders with no network.
 * Screenshots of the main screens at desktop and phone sizes are written as artifacts (web-helpers.ts).
 */

const LIVE = { timeout: 20_000 };
let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync("dist/web/index.html")) throw new Error("the web app is not built: npm run build:web (npm test does it first)");
  [server, browser] = await Promise.all([
    startServer("web", { port: 0, vars: { ARGON2_MEMORY_KIB: "64", ARGON2_ITERATIONS: "1" } }),
    launchChromium(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("web app in Chromium", () => {
  let alice: BrowserUser;
  let bob: BrowserUser;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([
      signUpInBrowser(browser, server.baseUrl, "alice_web", "Alice"),
      signUpInBrowser(browser, server.baseUrl, "bob_web", "Bob"),
    ]);
  });
  afterAll(async () => {
    await alice?.context.close();
    await bob?.context.close();
  });

  it("starts a direct chat and exchanges messages live, with unread counts, a reply and a reaction", async () => {
    await alice.page.getByLabel("Username to message").fill("bob_web");
    await alice.page.getByRole("button", { name: "Start chat" }).click();
    await alice.page.getByRole("heading", { name: "Bob", level: 2 }).waitFor();
    const composer = alice.page.getByRole("textbox", { name: "Message", exact: true });
    await composer.fill("Hello Bob");
    await composer.press("Enter");
    await expect.poll(() => messageTexts(alice.page), LIVE).toEqual(["Hello Bob"]);

    // Bob's chat list gets the chat and its unread count live (realtime socket), then he opens it.
    const chatLink = bob.page.getByRole("link", { name: "Alice, 1 unread" });
    await chatLink.waitFor(LIVE);
    await chatLink.click();
    await expect.poll(() => messageTexts(bob.page), LIVE).toEqual(["Hello Bob"]);

    // Bob replies to it; Alice sees the reply, quoting her message.
    // A message's actions show while it is hovered (or holds the keyboard focus).
    await messageWith(bob.page, "Hello Bob").hover();
    await messageWith(bob.page, "Hello Bob").getByRole("button", { name: "Reply" }).click();
    const bobComposer = bob.page.getByRole("textbox", { name: "Message", exact: true });
    await bobComposer.fill("Hi Alice");
    await bobComposer.press("Enter");
    const reply = messageWith(alice.page, "Hi Alice");
    await reply.waitFor(LIVE);
    expect(await reply.getByTestId("reply-quote").textContent()).toBe("Hello Bob");

    // Alice reacts; Bob sees the count live. Alice's own message shows it was read.
    await reply.hover();
    await reply.getByRole("button", { name: "React 👍" }).click();
    await messageWith(bob.page, "Hi Alice").getByRole("button", { name: "👍 1" }).waitFor(LIVE);
    await messageWith(alice.page, "Hello Bob").locator(".tick", { hasText: "Read" }).waitFor(LIVE);

    // Typing shows on the other side.
    await bobComposer.pressSequentially("typ");
    await alice.page.getByTestId("chat-status").filter({ hasText: "Bob is typing…" }).waitFor(LIVE);
    await bobComposer.fill("");
  });

  it("uploads an image with tus that the other side sees", async () => {
    await alice.page.getByLabel("Attach an image").setInputFiles({ name: "gradient.png", mimeType: "image/png", buffer: pngImage() });
    const seen = bob.page.locator("li.message img.attachment");
    await seen.waitFor(LIVE);
    await expect.poll(() => seen.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), LIVE).toBe(96);
    await alice.page.locator("li.message img.attachment").waitFor(LIVE);
  });

  it("goes offline, sends meanwhile, and catches up with nothing lost once back online", async () => {
    await bob.network.cut();
    await bob.page.getByTestId("connection-banner").waitFor(LIVE);
    const aliceComposer = alice.page.getByRole("textbox", { name: "Message", exact: true });
    const missed = ["while you were away 1", "while you were away 2", "while you were away 3"];
    for (const text of missed) {
      await aliceComposer.fill(text);
      await aliceComposer.press("Enter");
    }
    await expect.poll(() => messageTexts(alice.page), LIVE).toEqual(["Hello Bob", "Hi Alice", ...missed]);
    // Bob writes while offline: it waits in the client library's outbox; nothing of Alice's arrives.
    const bobComposer = bob.page.getByRole("textbox", { name: "Message", exact: true });
    await bobComposer.fill("written offline");
    await bobComposer.press("Enter");
    await bob.page.locator("li.message.pending").first().waitFor(LIVE);
    expect(await messageTexts(bob.page)).toEqual(["Hello Bob", "Hi Alice"]);

    // Back online: the chat socket resumes from its last eventSeq and the outbox sends once.
    await bob.network.restore();
    const expected = ["Hello Bob", "Hi Alice", ...missed, "written offline"];
    await expect.poll(() => messageTexts(bob.page), LIVE).toEqual(expected);
    await expect.poll(() => messageTexts(alice.page), LIVE).toEqual(expected);
    await bob.page.getByTestId("connection-banner").waitFor({ state: "detached", ...LIVE });
    expect(await bob.page.locator("li.message.pending").count()).toBe(0);
    // The image message (no text) is there too, between the reply and the offline messages.
    expect(await bob.page.locator("li.message img.attachment").count()).toBe(1);
    expect(alice.errors).toEqual([]);
  });

  it("finds people and messages with search, adds a contact and views their story", async () => {
    // Bob posts a text story.
    await bob.page.getByRole("button", { name: "Add story" }).click();
    const dialog = bob.page.getByRole("dialog", { name: "New story" });
    await dialog.getByLabel("Text (or the image's caption)").fill("Weekend plans: hiking");
    await dialog.getByRole("button", { name: "Post story" }).click();
    await dialog.waitFor({ state: "detached", ...LIVE });
    await bob.page.getByRole("button", { name: /^My story: 1 story/ }).waitFor(LIVE);

    // Alice finds Bob and adds him to her contacts, then finds a message by a word in it.
    const page = alice.page;
    await page.getByRole("link", { name: "Search" }).click();
    const query = page.getByLabel("Search people, chats and messages");
    await query.fill("bob_web");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const person = page.locator("li.person", { hasText: "@bob_web" });
    await person.getByRole("button", { name: "Add contact" }).click();
    await person.getByRole("button", { name: "Add contact" }).waitFor({ state: "detached", ...LIVE });
    await query.fill("away");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect.poll(() => page.locator("ul.results mark").allTextContents(), LIVE).toContain("away");
    await screenshot(page, "search");

    // Back in the chat, the strip shows Bob's new story; the viewer opens it and marks it viewed.
    await page.getByRole("link", { name: /^Bob/ }).click();
    const ring = page.getByRole("button", { name: "Bob: 1 story, new" });
    await ring.click(LIVE);
    const viewer = page.getByRole("dialog", { name: "Bob's stories" });
    await viewer.getByText("Weekend plans: hiking").waitFor(LIVE);
    await screenshot(page, "story");
    await viewer.getByRole("button", { name: "Done" }).click();
    await page.getByRole("button", { name: "Bob: 1 story" }).waitFor(LIVE);
  });

  it("turns on two-factor authentication in settings and signs in again with the second step", async () => {
    const carol = await signUpInBrowser(browser, server.baseUrl, "carol_web", "Carol");
    const page = carol.page;
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("link", { name: "Sessions & devices" }).click();
    await page.getByRole("button", { name: "Set up two-factor authentication" }).click();
    const secret = await page.getByTestId("totp-secret").textContent();
    await page.getByLabel("6-digit code").fill(new TOTP({ secret: Secret.fromBase32(secret ?? "") }).generate());
    await page.getByRole("button", { name: "Turn on" }).click();
    const recoveryCode = (await page.locator("ul.codes code").first().textContent(LIVE)) ?? "";
    await page.getByRole("button", { name: "Sign out" }).click();

    const signIn = page.getByRole("form", { name: "Sign in" });
    await signIn.getByLabel("Username, email or phone").fill("carol_web");
    await signIn.getByLabel("Password").fill(PASSWORD);
    await signIn.getByRole("button", { name: "Sign in" }).click();
    const second = page.getByRole("form", { name: "Two-factor authentication" });
    await second.getByRole("button", { name: "Use a recovery code" }).click();
    await second.getByLabel("Recovery code").fill(recoveryCode);
    await second.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor(LIVE);
    await carol.context.close();
  });

  it("shows the main screens at desktop and phone sizes (screenshots)", async () => {
    const page = alice.page;
    await page.getByRole("textbox", { name: "Message", exact: true }).hover();
    await screenshot(page, "chat");
    await page.goto("/");
    await page.getByRole("link", { name: /^Bob/ }).waitFor(LIVE);
    await page.getByRole("button", { name: "Bob: 1 story" }).waitFor(LIVE);
    await screenshot(page, "chat-list");
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    await page.getByLabel("Display name").waitFor();
    await screenshot(page, "settings");
    await page.goto("/settings/security");
    await page.getByTestId("sessions").locator("li").first().waitFor(LIVE);
    await page.getByRole("link", { name: /^Bob/ }).waitFor(LIVE);
    await screenshot(page, "sessions");

    await page.setViewportSize(PHONE);
    await page.goto("/");
    await page.getByRole("link", { name: /^Bob/ }).waitFor(LIVE);
    await screenshot(page, "chat-list");
    await page.getByRole("link", { name: /^Bob/ }).click();
    await expect.poll(() => messageTexts(page), LIVE).toHaveLength(6);
    const image = page.locator("li.message img.attachment");
    await expect.poll(() => image.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), LIVE).toBe(96);
    await screenshot(page, "chat");
    await page.goto("/settings");
    await page.getByLabel("Display name").waitFor();
    await screenshot(page, "settings");
    await page.getByRole("link", { name: "Back to chats" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
  });

  it("edits and deletes a message, and the other side sees both live", async () => {
    await alice.page.getByRole("link", { name: /^Bob/ }).click();
    await expect.poll(() => messageTexts(alice.page), LIVE).toContain("written offline");

    const mine = messageWith(bob.page, "written offline");
    await mine.hover();
    await mine.getByRole("button", { name: "Edit" }).click();
    const editor = bob.page.getByRole("textbox", { name: "Edit message" });
    await editor.fill("written offline, then edited");
    await editor.press("Enter");
    await messageWith(alice.page, "written offline, then edited").getByText("edited", { exact: true }).waitFor(LIVE);

    const reply = messageWith(bob.page, "Hi Alice");
    await reply.hover();
    bob.page.once("dialog", (dialog) => void dialog.accept());
    await reply.getByRole("button", { name: "Delete" }).click();
    await alice.page.getByText("This message was deleted.").waitFor(LIVE);
    await expect
      .poll(() => messageTexts(alice.page), LIVE)
      .toEqual(["Hello Bob", "while you were away 1", "while you were away 2", "while you were away 3", "written offline, then edited"]);
  });
});

describe("/docs in Chromium", () => {
  it("renders the API reference from same-origin assets only, with no network", async () => {
    for (const viewport of [{ width: 1280, height: 800 }, PHONE]) {
      const context = await browser.newContext({ viewport, baseURL: server.baseUrl });
      const page = await context.newPage();
      const origin = new URL(server.baseUrl).origin;
      const outside: string[] = [];
      const errors: string[] = [];
      await context.route(
        (url) => url.origin !== origin,
        (route) => {
          outside.push(route.request().url());
          return route.abort("internetdisconnected");
        },
      );
      page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
      await page.goto("/docs");
      await page.locator(".opblock-tag").nth(10).waitFor(LIVE);
      await page.locator(".opblock-tag", { hasText: "Service" }).click();
      await page.locator(".opblock", { hasText: "/health/ready" }).waitFor(LIVE);
      await screenshot(page, "docs");
      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
      await context.close();
    }
  });
});
