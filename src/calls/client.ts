import type { Bindings } from "../env";
import type { CallRelayFrame } from "../hubs/protocol";
import { unwrap } from "../lib/rpc-result";
import type { StartCallInput } from "./call-room";
import type { CallDevice } from "./frames";
import type { PublishedTrack, SfuRequest } from "./sfu-state";
import type { CallView } from "./views";

/** What reaching a call's room needs from the bindings. */
export type CallEnv = Pick<Bindings, "CALL_ROOM">;

/** The CallRoom stub of a call: one Durable Object per call id (tests call it directly). */
export const callRoomFor = (env: CallEnv, callId: string) => env.CALL_ROOM.get(env.CALL_ROOM.idFromName(callId));

/**
 * The one way the Worker and the hubs talk to a call's room: each method answers the room's
 * answer or throws the AppError it raised (errors cross RPC as data, lib/rpc-result.ts).
 */
export class CallClient {
  private readonly stub: ReturnType<typeof callRoomFor>;

  constructor(env: CallEnv, callId: string) {
    this.stub = callRoomFor(env, callId);
  }

  /** Start the call (see CallRoom.start). */
  async start(input: StartCallInput): Promise<CallView> {
    return unwrap(await this.stub.start(input));
  }

  /** Answer on `sessionId`. */
  async accept(userId: string, sessionId: string): Promise<CallView> {
    return unwrap(await this.stub.accept(userId, sessionId));
  }

  /** Decline (`rejected`) or say busy (`busy`) from `sessionId`. */
  async decline(userId: string, sessionId: string, answer: "rejected" | "busy"): Promise<CallView> {
    return unwrap(await this.stub.decline(userId, sessionId, answer));
  }

  /** Leave the call. */
  async hangUp(userId: string, sessionId: string): Promise<CallView> {
    return unwrap(await this.stub.hangUp(userId, sessionId));
  }

  /** Sessions of `userId` ended: the call drops the device bound to one of them. */
  async sessionsEnded(userId: string, sessionIds: string[], wholeAccount: boolean): Promise<CallView> {
    return unwrap(await this.stub.sessionsEnded(userId, sessionIds, wholeAccount));
  }

  /** SFU calls: may `userId` do `request` (their own sessions, this call's tracks)? Throws when not. */
  async sfuCheck(userId: string, request: SfuRequest): Promise<void> {
    unwrap(await this.stub.sfuCheck(userId, request));
  }

  /** SFU calls: `userId` opened an SFU session for the call. */
  async sfuSessionOpened(userId: string, sfuSessionId: string): Promise<void> {
    unwrap(await this.stub.sfuSessionOpened(userId, sfuSessionId));
  }

  /** SFU calls: `userId` published tracks on their session (the others hear `call.tracks`). */
  async sfuTracksPublished(userId: string, sfuSessionId: string, trackNames: string[]): Promise<void> {
    unwrap(await this.stub.sfuTracksPublished(userId, sfuSessionId, trackNames));
  }

  /** SFU calls: the tracks published by the people in the call. */
  async sfuTracks(userId: string): Promise<PublishedTrack[]> {
    return unwrap(await this.stub.sfuTracks(userId));
  }

  /** Pass signaling from one device of the call to another. */
  async relay(from: CallDevice, frame: CallRelayFrame): Promise<{ delivered: number }> {
    return unwrap(await this.stub.relay(from, frame));
  }
}

/** The client of one call's room. */
export const callClient = (env: CallEnv, callId: string) => new CallClient(env, callId);
