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
    let chunks = null; // a heap snapshot's JSON while one is taken
    ws.on("message", (data) => {
      const message = JSON.parse(String(data));
      if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks?.push(message.params.chunk);
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
      /**
       * A V8 heap snapshot, summed: `{ mib, backingMiB, objects }` of everything live: the heap's
       * objects, and apart the ArrayBuffers' (and WebAssembly memories') bytes, which no collection
       * walks. Taking one collects the garbage first; like any forced collection it can slow workerd
       * afterwards, so measure speed elsewhere. A kept-alive HTTP connection to the app can be closed during the pause.
       */
      async snapshot() {
        chunks = [];
        let snapshot;
        try {
          await call("HeapProfiler.enable");
          await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
          snapshot = JSON.parse(chunks.join(""));
        } finally {
          chunks = null;
        }
        const fields = snapshot.snapshot.meta.node_fields;
        const [sizeAt, nameAt] = [fields.indexOf("self_size"), fields.indexOf("name")];
        const backingStore = snapshot.strings.indexOf("system / JSArrayBufferData");
        let bytes = 0;
        let backingBytes = 0;
        for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
          if (snapshot.nodes[i + nameAt] === backingStore) backingBytes += snapshot.nodes[i + sizeAt];
          else bytes += snapshot.nodes[i + sizeAt];
        }
        return { mib: bytes / 2 ** 20, backingMiB: backingBytes / 2 ** 20, objects: snapshot.nodes.length / fields.length };
      },
      close: () => ws.close(),
    };
  } catch {
    return null;
  }
}
