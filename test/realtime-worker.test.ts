import { describe, expect, it } from "vitest";
import realtimeWorker from "../src/realtime-worker";

describe("the realtime Worker's own fetch (src/realtime-worker.ts)", () => {
  it("answers the standard 404 body: nothing routes to it, its objects are reached through bindings", async () => {
    const res = await realtimeWorker.fetch();
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error).toMatchObject({ code: "not_found", message: "No such route" });
    expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
