import { createECDH, type ECDH, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for a Web Push service (RFC 8030) on 127.0.0.1: it records every POST it receives
 * and answers 201, or the statuses queued for that path. Subscriptions are made the way a browser
 * makes them (a fresh P-256 key pair and 16 random bytes) and read back with `http_ece`, an
 * implementation of RFC 8188/8291 independent of the server's.
 */

/** http_ece (no types of its own): RFC 8188 content coding, with the RFC 8291 key agreement. */
const ece = createRequire(import.meta.url)("http_ece") as {
  decrypt(body: Buffer, params: { version: "aes128gcm"; privateKey: ECDH; authSecret: Buffer }): Buffer;
};

/** One request the push service received. */
export interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
  /** The status it was answered with. */
  status: number;
}

/** A browser's push subscription to this receiver: what it registers, and the keys that read its messages. */
export interface Subscription {
  path: string;
  json: { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } };
  ecdh: ECDH;
  authSecret: Buffer;
}

export class PushReceiver {
  readonly deliveries: Delivery[] = [];
  private readonly statuses = new Map<string, number[]>();
  private readonly waiters = new Set<() => void>();
  private server: Server | null = null;
  origin = "";

  /** Listen on a free port of 127.0.0.1. */
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = req.url ?? "";
        const status = this.statuses.get(path)?.shift() ?? 201;
        this.deliveries.push({ path, headers: req.headers, body: Buffer.concat(chunks), at: Date.now(), status });
        res.writeHead(status).end();
        for (const wake of this.waiters) wake();
      });
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** Answer the next requests to `path` with these statuses (then 201 again). */
  answer(path: string, ...statuses: number[]): void {
    this.statuses.set(path, [...(this.statuses.get(path) ?? []), ...statuses]);
  }

  /** A new subscription whose endpoint is `path` on this receiver. */
  subscribe(path: string): Subscription {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const authSecret = randomBytes(16);
    const keys = { p256dh: ecdh.getPublicKey().toString("base64url"), auth: authSecret.toString("base64url") };
    return { path, json: { endpoint: `${this.origin}${path}`, expirationTime: null, keys }, ecdh, authSecret };
  }

  /** The deliveries to `sub` so far, from index `from` of the log on. */
  to(sub: Subscription, from = 0): Delivery[] {
    return this.deliveries.slice(from).filter((d) => d.path === sub.path);
  }

  /** Waits (up to `timeoutMs`) until `count` deliveries to `sub` from log index `from` on match `match`; answers them. */
  waitFor(sub: Subscription, match: (d: Delivery) => boolean, { from = 0, count = 1, timeoutMs = 30_000 } = {}): Promise<Delivery[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.to(sub, from).filter(match);
        if (found.length < count) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        const seen = this.to(sub, from).map((d) => ({ status: d.status, payload: safeDecrypt(d, sub) }));
        reject(
          new Error(`${count} matching push(es) to ${sub.path} not received within ${timeoutMs / 1000} s; got ${JSON.stringify(seen)}`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** The notification a delivery carries, decrypted with the subscription's keys. */
export function decrypt(delivery: Delivery, sub: Subscription): any {
  const plaintext = ece.decrypt(delivery.body, { version: "aes128gcm", privateKey: sub.ecdh, authSecret: sub.authSecret });
  return JSON.parse(plaintext.toString("utf8"));
}

function safeDecrypt(delivery: Delivery, sub: Subscription): unknown {
  try {
    return decrypt(delivery, sub);
  } catch (err) {
    return `undecryptable: ${err}`;
  }
}
