import type { Bindings } from "../env";
import type { Attachment } from "./types";

/**
 * How a room reaches the media module, which sits above rooms in the layers (README): the app
 * registers the implementation where it is assembled (src/app.ts), in the same isolate as the
 * rooms, so rooms never import media.
 */
export interface MediaPort {
  /**
   * The items `ownerId` may attach, in the order asked: each must exist, belong to them and have
   * purpose `attachment` (else the AppError media answers with: 404 or 422).
   */
  resolve(db: D1Database, ownerId: string, mediaIds: readonly string[]): Promise<Attachment[]>;
  /** Reference the items from a message, so the chat's members may read them (idempotent). */
  attach(db: D1Database, input: { mediaIds: readonly string[]; chatId: string; messageId: string }): Promise<void>;
  /** Drop the references of deleted messages; items nobody references any more are erased. */
  detach(env: Bindings, chatId: string, messageIds: readonly string[]): Promise<void>;
}

let port: MediaPort | null = null;

/** Install the media module's implementation (src/app.ts). */
export function registerMediaPort(implementation: MediaPort): void {
  port = implementation;
}

/** The registered implementation; a message with attachments cannot be sent without one. */
export function mediaPort(): MediaPort {
  if (!port) throw new Error("no media port registered: src/app.ts installs it");
  return port;
}
