// What the Taro layer needs of the engine underneath: start one upload, hear of its events,
// abort it. `bindings.ts` gives it over uptask-ffi's generated bindings (JSI in an app,
// N-API under Node); the tests also give it with a stand-in.

import type { UploadFileSuccessResult, UploadProgress } from "./shared/uptask";

/** One upload as the engine takes it: the app's options, checked and flattened. */
export interface NativeRequest {
  url: string;
  /** A path on the device (a `file://` URI is turned into one before this). */
  filePath: string;
  name: string;
  header: Array<[string, string]>;
  formData: Array<[string, string]>;
  fileName?: string;
  timeoutMs?: number;
  protocol: "multipart" | "tus" | "s3";
  resumeStore?: string;
  partSize?: number;
  concurrency?: number;
}

/** How an upload ended: the server's answer, or why there is none. */
export type NativeOutcome =
  | { ok: true; result: UploadFileSuccessResult }
  | { ok: false; errMsg: string; kind: string };

/** Where the engine's events go; each arrives on the JavaScript thread, in order. */
export interface NativeEvents {
  progress(update: UploadProgress): void;
  headers(header: Record<string, string>): void;
  /** Once, last. */
  settled(outcome: NativeOutcome): void;
}

/** A running upload. */
export interface NativeUpload {
  abort(): void;
}

/** The engine. */
export interface NativeUptask {
  /**
   * Starts `request`, its events going to `events` from the first one on (none is missed
   * however quickly the upload ends).
   */
  start(request: NativeRequest, events: NativeEvents): NativeUpload;
}
