/**
 * Compile-time checks (`npm run typecheck`) that the client library's socket types (client/) match
 * the server's protocol: the client cannot import server code (it runs in browsers), so a renamed
 * field or frame on either side fails here instead. The REST types need no such check: they are
 * generated from /openapi.json (client/generated/api.d.ts, kept current by test/node/client-auth.test.ts).
 */
import type { z } from "zod";
import type { ChatClientFrame, HubUpdate as ClientHubUpdate } from "../client";
import type { HubClientFrame, HubUpdate } from "../src/hubs/protocol";
import type { ClientFrame } from "../src/rooms/protocol";

type Assert<T extends true> = T;
type Extends<A, B> = [A] extends [B] ? true : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The realtime update as the hub logs it: the client's type without the log's own fields. */
type Payload<U> = U extends unknown ? Omit<U, "updateSeq" | "createdAt"> : never;

/** Every frame the chat socket sends is one the room accepts. */
export type ChatFramesAccepted = Assert<Extends<ChatClientFrame, z.input<typeof ClientFrame>>>;
/** Every frame type the room accepts can be sent by the client. */
export type ChatFramesCovered = Assert<Same<ChatClientFrame["type"], z.input<typeof ClientFrame>["type"]>>;
/** The realtime socket's sync frame is one the hub accepts. */
export type HubSyncAccepted = Assert<Extends<{ type: "sync"; id?: string; afterUpdateSeq: number }, z.input<typeof HubClientFrame>>>;
/** The realtime updates the client types are exactly those the hub sends. */
export type HubUpdatesSame = Assert<Same<Payload<ClientHubUpdate>, HubUpdate>>;
