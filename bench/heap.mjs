// The JavaScript heap in use in `wrangler dev`'s Worker isolate (the Worker and every Durable Object
// of the app run in it locally), read through wrangler's inspector (Runtime.getHeapUsage). RSS alone
// cannot tell a leak from caches and allocator slack filling up. No collection is forced: asking the
// inspector for one (HeapProfiler.collectGarbage) left workerd several times slower for the rest of
// the run, so the trend is read through the garbage's sawtooth instead.
import WebSocket from "ws";

/**
 * Connect to the inspector on `port`; resolves to `{ liveMiB(), close() }`, or null when the
 * inspector cannot be reached (an external server).
 */
export async function heapProbe(port) {
  if (!port) return null;
  try {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
    const url = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
    if (!url) return null;
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    let nextId = 0;
    const waiting = new Map();
    ws.on("message", (data) => {
      const message = JSON.parse(String(data));
      waiting.get(message.id)?.(message);
      waiting.delete(message.id);
    });
    const call = (method, params = {}) =>
      new Promise((resolve) => {
        const id = ++nextId;
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      });
    return {
      /** MiB of the heap in use (null if the inspector did not answer). */
      async liveMiB() {
        const answer = await call("Runtime.getHeapUsage");
        return answer.result?.usedSize === undefined ? null : answer.result.usedSize / 2 ** 20;
      },
      close: () => ws.close(),
    };
  } catch {
    return null;
  }
}
