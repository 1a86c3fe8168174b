import type { Bindings } from "../env";
import type { CallClientFrame } from "./protocol";

/** A signed-in device as a hub knows it: the user and the session its realtime socket belongs to. */
export interface HubDevice {
  userId: string;
  sessionId: string;
}

/**
 * How a user's hub reaches the calls module, which sits above hubs in the layers (README): the app
 * registers the implementation where it is assembled (src/app/wiring.ts), in the same isolate as the
 * hubs, so hubs never import calls. Calls reach hubs the ordinary way (hubs/client.ts).
 */
export interface CallPort {
  /**
   * A device sent call signaling on its realtime socket: act on it and answer the fields of the
   * frame's `ack`, or throw the AppError its `error` frame carries.
   */
  handleFrame(env: Bindings, from: HubDevice, frame: CallClientFrame): Promise<Record<string, unknown>>;
  /**
   * Sessions of `userId` ended (or, `wholeAccount`, all of them: suspension, ban, deletion): a call
   * bound to one of them loses that device, at once.
   */
  sessionsEnded(env: Bindings, userId: string, sessionIds: string[], wholeAccount: boolean): Promise<void>;
}

let port: CallPort | null = null;

/** Install the calls module's implementation (src/app/wiring.ts). */
export function registerCallPort(implementation: CallPort): void {
  port = implementation;
}

/** The registered implementation, or null (a hub without calls answers call frames with an error). */
export function callPort(): CallPort | null {
  return port;
}
