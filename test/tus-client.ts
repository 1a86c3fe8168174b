import { exports } from "cloudflare:workers";
// The browser build of the official tus client: it reads Blobs and needs only an HTTP stack,
// which here calls the Worker in this runtime instead of XMLHttpRequest.
import { Upload, type UploadOptions } from "tus-js-client/lib.esm/browser/index.js";
import { BASE } from "./helpers";

export const TUS_ENDPOINT = `${BASE}/api/v1/media/uploads`;

/** What the test stack saw: every request's method, and how many bodies it cut short. */
export interface StackLog {
  requests: { method: string; url: string; status: number }[];
  dropped: number;
}

/**
 * An HTTP stack for tus-js-client that calls the app's fetch handler. `dropBody(method, n)` may
 * return a byte count: that request's body is cut after those bytes, as when a mobile network
 * drops mid-upload, and the client sees a network error (it never gets the server's answer).
 */
export function workerHttpStack(dropBody?: (method: string, index: number) => number | null) {
  const log: StackLog = { requests: [], dropped: 0 };
  let index = 0;
  const stack = {
    getName: () => "worker-fetch",
    createRequest(method: string, url: string) {
      const headers = new Headers();
      return {
        getMethod: () => method,
        getURL: () => url,
        setHeader: (name: string, value: string) => headers.set(name, value),
        getHeader: (name: string) => headers.get(name) ?? undefined,
        setProgressHandler: () => undefined,
        abort: async () => undefined,
        getUnderlyingObject: () => null,
        async send(body: Blob | null) {
          const cut = body ? (dropBody?.(method, index++) ?? null) : null;
          const payload = body && cut !== null ? truncatedStream(body, cut) : body;
          const res = await exports.default.fetch(new Request(url, { method, headers, body: payload, duplex: "half" } as RequestInit));
          log.requests.push({ method, url, status: res.status });
          const text = await res.text();
          if (cut !== null) {
            log.dropped += 1;
            throw new Error("simulated network drop");
          }
          return {
            getStatus: () => res.status,
            getHeader: (name: string) => res.headers.get(name) ?? undefined,
            getBody: () => text,
            getUnderlyingObject: () => res,
          };
        },
      };
    },
  };
  return { stack, log };
}

/** The first `bytes` of `blob`, then the stream fails, as a dropped connection would. */
function truncatedStream(blob: Blob, bytes: number): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent) return controller.error(new Error("connection reset"));
      sent = true;
      controller.enqueue(new Uint8Array(await blob.slice(0, bytes).arrayBuffer()));
    },
  });
}

/** Upload `file` with tus-js-client; resolves with the upload URL once it reports success. */
export function tusUpload(file: Blob, options: Partial<UploadOptions> & { token: string }): Promise<string> {
  const { token, ...rest } = options;
  return new Promise((resolve, reject) => {
    const upload = new Upload(file, {
      endpoint: TUS_ENDPOINT,
      headers: { Authorization: `Bearer ${token}` },
      retryDelays: [0, 0, 0],
      storeFingerprintForResuming: false,
      ...rest,
      onSuccess: () => resolve(upload.url!),
      onError: reject,
    });
    upload.start();
  });
}

/** Bytes that are not a repeating pattern, so a misplaced part changes the hash. */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(length, at + 65536)));
  return out;
}

/** Hex SHA-256, computed here independently of the server. */
export async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
