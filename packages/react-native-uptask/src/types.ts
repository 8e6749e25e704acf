// The types of the browser package (crates/uptask-js/src/uptask.d.ts, copied to src/shared
// by scripts/sync-shared.mjs): the same results, events, errors and task on both. Only the
// file option differs: an app names a file on the device, a page gives a Blob.

import type {
  UploadFileCommon,
  UploadThroughSigner,
  UploadToUrl,
} from "./shared/uptask";

export type {
  HeadersReceivedResult,
  UploadFileCommon,
  UploadFileError,
  UploadFileSuccessResult,
  UploadProfile,
  UploadProgress,
  UploadTask,
  UploadThroughSigner,
  UploadToUrl,
} from "./shared/uptask";

/** The file, on the device. */
export interface UploadDeviceFile {
  /** A path, or a `file://` URI (what pickers and file-system modules give). */
  filePath: string;
  /** The form field of the file. */
  name: string;
  /** The file name the server sees; default the path's last component. */
  fileName?: string;
  /**
   * For `protocol: "tus"` and `"s3"`: a directory (path or `file://` URI) where the upload
   * is remembered, so that one cut off when the app was killed continues, the next time the
   * same file goes to the same place, from where the server's bytes end.
   */
  resumeStore?: string;
}

/**
 * What `uploadFile` takes. `withCredentials` is accepted and has no effect: there is no
 * cookie store on this side.
 */
export type UploadFileOption = UploadFileCommon & (UploadToUrl | UploadThroughSigner) & UploadDeviceFile;
