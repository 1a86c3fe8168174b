import type { Bindings } from "../env";
import type { Attachment } from "./types";

/**
 * How a room reaches the media module, which sits above rooms in the layers (README): the app
 * registers the implementation where it is assembled (src/app/wiring.ts), in the same isolate as the
 * rooms, so rooms never import media.
 */
export interface MediaPort {
  /**
   * Attach the items `ownerId` uploaded as attachments to message `messageId` (chosen before it is
   * stored) and answer what they are, in the order asked, in one round trip. Each must exist,
   * belong to them and have purpose `attachment`, and pass `check` (the message type's rule);
   * otherwise nothing stays attached and the AppError is thrown (404, 422).
   */
  attachOwned(
    db: D1Database,
    input: { ownerId: string; mediaIds: readonly string[]; chatId: string; messageId: string },
    check: (items: Attachment[]) => void,
  ): Promise<Attachment[]>;
  /**
   * Reference already checked items (a forwarded message's, staged ones) from messages of chat
   * `chatId`, so its members may read them: all in one round trip, idempotent.
   */
  attach(db: D1Database, chatId: string, messages: readonly { messageId: string; mediaIds: readonly string[] }[]): Promise<void>;
  /** Take back the references of a message that was never stored; nothing is erased (the items are unattached uploads again). */
  release(db: D1Database, input: { mediaIds: readonly string[]; chatId: string; messageId: string }): Promise<void>;
  /** Drop the references of deleted messages; items nobody references any more are erased. */
  detach(env: Bindings, chatId: string, messageIds: readonly string[]): Promise<void>;
}

let port: MediaPort | null = null;

/** Install the media module's implementation (src/app/wiring.ts). */
export function registerMediaPort(implementation: MediaPort): void {
  port = implementation;
}

/** The registered implementation; a message with attachments cannot be sent without one. */
export function mediaPort(): MediaPort {
  if (!port) throw new Error("no media port registered: src/app/wiring.ts installs it");
  return port;
}
