import { Upload } from "tus-js-client";
import { mediaIdFromUploadUrl, type UploadTarget } from "../../../client";
import { client } from "../lib/client";

/**
 * Upload `file` with tus (resumable, 8 MiB chunks, the session's token on every request: the client
 * library's tusUploadOptions) and resolve to the new media item's id. `onProgress` gets 0…1.
 */
export function uploadFile(
  file: File,
  target: Omit<UploadTarget, "filename" | "filetype">,
  onProgress: (share: number) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new Upload(file, {
      ...client.tusUploadOptions({ ...target, filename: file.name, filetype: file.type || "application/octet-stream" }),
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => onProgress(total ? sent / total : 0),
      onSuccess: () => (upload.url ? resolve(mediaIdFromUploadUrl(upload.url)) : reject(new Error("the upload has no URL"))),
      onError: reject,
    });
    upload.start();
  });
}
