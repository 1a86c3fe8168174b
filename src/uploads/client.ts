import type { Bindings } from "../env";

/** The Durable Object of one resumable upload (addressed by the upload id, which becomes the media id). */
export const uploadSession = (env: Pick<Bindings, "UPLOAD_SESSION">, uploadId: string) =>
  env.UPLOAD_SESSION.get(env.UPLOAD_SESSION.idFromName(uploadId));
