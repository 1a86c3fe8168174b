import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { crc32, deflateSync } from "node:zlib";
import { type Browser, type BrowserContext, chromium, type Page, type WebSocketRoute } from "playwright-core";
import { PASSWORD } from "./api";

/** Debian's Chromium (`.ci/run` installs it when missing), headless, with no background traffic of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * Where screenshots go: test-results/screenshots (git-ignored) by default; the README shows the
 * committed copies in docs/screenshots, refreshed with SCREENSHOT_DIR=docs/screenshots.
 */
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? "test-results/screenshots";

/** Save a screenshot of `page` as `<name>-<desktop|phone>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const size = page.viewportSize()?.width === PHONE.width ? "phone" : "desktop";
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${size}.png`) });
}

/**
 * A network the test can cut for one browser context. `context.setOffline(true)` stops HTTP but
 * Chromium keeps established WebSockets open, unlike a real network loss: so every socket goes
 * through a route that can drop it (`cut`: open sockets close, new ones are refused) and
 * `restore` lets them through again.
 */
export async function cuttableNetwork(context: BrowserContext) {
  let offline = false;
  const open = new Set<WebSocketRoute>();
  await context.routeWebSocket(
    () => true,
    (ws) => {
      if (offline) return ws.close({ code: 1001, reason: "network lost" });
      ws.connectToServer();
      open.add(ws);
      ws.onClose(() => open.delete(ws));
    },
  );
  return {
    async cut() {
      offline = true;
      await context.setOffline(true);
      for (const ws of open) await ws.close({ code: 1001, reason: "network lost" });
      open.clear();
    },
    async restore() {
      offline = false;
      await context.setOffline(false);
    },
  };
}

/** A browser context whose page signs up through the app's own form; resolves once the chat list shows. */
export async function signUpInBrowser(browser: Browser, baseUrl: string, username: string, displayName: string) {
  const context = await browser.newContext({ viewport: DESKTOP, baseURL: baseUrl });
  const network = await cuttableNetwork(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  await page.goto("/");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByLabel("Username", { exact: true }).fill(username);
  await page.getByLabel("Display name (optional)").fill(displayName);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Chats" }).waitFor();
  return { context, page, errors, network };
}
export type BrowserUser = Awaited<ReturnType<typeof signUpInBrowser>>;

/** The texts of the stored messages the page shows, in order (messages still in the outbox left out). */
export function messageTexts(page: Page): Promise<string[]> {
  return page.locator("li.message:not(.pending) .bubble p.text").allTextContents();
}

/** The message whose text is `text`. */
export const messageWith = (page: Page, text: string) =>
  page.locator("li.message:not(.pending)", { has: page.locator("p.text", { hasText: text }) });

/** A real PNG (`size`² pixels, a colour gradient), so the server's type check and the browser's decoder both accept it. */
export function pngImage(size = 96): Buffer {
  const row = 1 + size * 3;
  const raw = Buffer.alloc(row * size);
  for (let y = 0; y < size; y++) {
    raw[y * row] = 0; // no filter
    for (let x = 0; x < size; x++) raw.set([40 + x * 2, 90 + y, 200], y * row + 1 + x * 3);
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
