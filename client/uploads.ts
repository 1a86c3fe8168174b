import type { AuthSession } from "./auth";
import { ApiError } from "./errors";

/** The part of a tus client's HTTP request the helper touches (tus-js-client's HttpRequest fits). */
export interface TusRequestLike {
  setHeader(name: string, value: string): void;
}
/** The part of a tus client's error the helper reads (tus-js-client's DetailedError fits). */
export interface TusErrorLike {
  originalResponse?: { getStatus(): number; getBody(): string } | null;
}

/** What an upload is for (README, Media): an attachment for a chat, an avatar or a story. */
export interface UploadTarget {
  purpose: "attachment" | "avatar" | "story";
  /** The chat an attachment is staged in (attachments only). */
  chatId?: string;
  filename: string;
  /** The file's MIME type; the server checks the bytes match it for images, video, audio and PDF. */
  filetype: string;
}

/** Options for tus-js-client's `new Upload(file, options)`; spread in your own (`onProgress`, `onSuccess`, …). */
export interface TusUploadOptions {
  endpoint: string;
  metadata: Record<string, string>;
  chunkSize?: number;
  retryDelays: number[];
  onBeforeRequest(req: TusRequestLike): Promise<void>;
  onShouldRetry(error: TusErrorLike, retryAttempt: number, options: unknown): boolean;
}

/**
 * tus-js-client options for an upload to `/api/v1/media/uploads` (tus 1.0) as the signed-in user:
 * every request (creation, each PATCH, HEAD on resume) carries the current access token, refreshed
 * before it expires; a `401` (the token expired mid-upload) refreshes it and retries, and the upload
 * resumes where the server says it stands. The retry rule is tus-js-client's own otherwise (server
 * errors, 409 and 423 again; other 4xx final). Works with any tus client that has a request hook.
 */
export function tusUploadOptions(
  baseUrl: string,
  auth: AuthSession,
  target: UploadTarget,
  { chunkSize = 8 * 1024 * 1024, retryDelays = [0, 1000, 3000, 5000, 10_000] }: { chunkSize?: number; retryDelays?: number[] } = {},
): TusUploadOptions {
  let sentToken: string | null = null;
  let rejection: ApiError | null = null;
  const metadata: Record<string, string> = { filename: target.filename, filetype: target.filetype, purpose: target.purpose };
  if (target.chatId) metadata.chatId = target.chatId;
  return {
    endpoint: `${baseUrl.replace(/\/+$/, "")}/api/v1/media/uploads`,
    metadata,
    chunkSize,
    retryDelays,
    async onBeforeRequest(req) {
      const token = rejection && sentToken ? await auth.rejected(sentToken, rejection) : await auth.accessToken();
      rejection = null;
      if (!token) throw new ApiError(401, "unauthorized", "Not signed in");
      sentToken = token;
      req.setHeader("Authorization", `Bearer ${token}`);
    },
    onShouldRetry(error) {
      const status = error.originalResponse?.getStatus() ?? 0;
      if (status === 401) {
        rejection = unauthorized(error.originalResponse?.getBody() ?? "");
        return rejection.code === "token_expired" || rejection.code === "unauthorized";
      }
      const online = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine !== false;
      return (status < 400 || status >= 500 || status === 409 || status === 423) && online;
    },
  };
}

/** The media id of a finished tus upload: the last segment of its URL (`upload.url`). */
export function mediaIdFromUploadUrl(uploadUrl: string): string {
  return new URL(uploadUrl).pathname.split("/").filter(Boolean).pop() ?? "";
}

function unauthorized(body: string): ApiError {
  try {
    const { error } = JSON.parse(body) as { error?: { code?: string; message?: string } };
    return new ApiError(401, error?.code ?? "unauthorized", error?.message ?? "Unauthorized");
  } catch {
    return new ApiError(401, "unauthorized", "Unauthorized");
  }
}
