import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { callPort } from "./call-port";
import type { CallClientFrame } from "./protocol";
import type { HubSockets } from "./realtime";

/**
 * The hub's side of call signaling: frames from its sockets go to the calls module (call-port.ts)
 * one at a time, in the order the hub received them, so a device's offer reaches its peer before
 * the ICE candidates that follow it. The frame's `ack` carries what the module answered; an
 * AppError becomes an `error` frame, anything else `internal` (logged).
 */
export class HubCallFrames {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly env: Bindings,
    private readonly sockets: HubSockets,
    /** The hub's user, for sockets accepted before their attachment recorded it. */
    private readonly hubUserId: () => string | null,
  ) {}

  /** Handle a call frame from `ws` after every one before it. */
  handle(ws: WebSocket, frame: CallClientFrame): Promise<void> {
    const run = () => this.run(ws, frame);
    const next = this.queue.then(run, run);
    this.queue = next;
    return next;
  }

  private async run(ws: WebSocket, frame: CallClientFrame): Promise<void> {
    const port = callPort();
    const info = this.sockets.info(ws);
    const userId = info.userId ?? this.hubUserId();
    try {
      if (!port || !userId) throw new AppError(503, "calls_unavailable", "Calls are not available on this socket");
      const ack = await port.handleFrame(this.env, { userId, sessionId: info.sessionId }, frame);
      this.sockets.send(ws, { type: "ack", id: frame.id, ...ack });
    } catch (err) {
      if (err instanceof AppError) return this.sockets.sendError(ws, frame.id, err);
      console.error(JSON.stringify({ level: "error", msg: "call frame failed", frame: frame.type, userId, error: String(err) }));
      this.sockets.sendError(ws, frame.id, { code: "internal", message: "Internal server error" });
    }
  }
}
