// The engine as the Taro layer needs it, over uptask-ffi's bindings as
// uniffi-bindgen-react-native generates them. The JSI bindings (an app) and the N-API ones
// (Node, in this package's tests) have the same TypeScript API; this works over either.

import type {
  Progress,
  UploadRequest,
  UploadTaskLike,
} from "./generated/uptask_ffi";
import type { NativeOutcome, NativeUptask } from "./native";

/** What is used of the generated bindings. */
export interface Bindings {
  uploadFile(request: UploadRequest): UploadTaskLike;
}

function progressOf(p: Progress) {
  // Byte counts arrive as bigint (u64); a file is far below 2^53 bytes.
  const update = {
    progress: p.progress,
    totalBytesSent: Number(p.totalBytesSent),
    totalBytesExpectedToSend: Number(p.totalBytesExpectedToSend),
  };
  return {
    ...update,
    ...(p.speed === undefined ? {} : { speed: Number(p.speed) }),
    ...(p.eta === undefined ? {} : { eta: Number(p.eta) }),
  };
}

/** The outcome of a task that has ended: `wait` gives it at once then. */
function outcomeOf(task: UploadTaskLike): NativeOutcome {
  try {
    const s = task.wait(undefined);
    if (s === undefined) {
      return { ok: false, errMsg: "uploadFile:fail the upload had not ended", kind: "internal" };
    }
    const result = {
      errMsg: "uploadFile:ok" as const,
      statusCode: s.statusCode,
      header: Object.fromEntries(s.header),
      data: s.data,
    };
    return { ok: true, result: s.uploadUrl === undefined ? result : { ...result, uploadUrl: s.uploadUrl } };
  } catch (e) {
    // The bindings throw UploadFailure.Failed, whose fields are under `inner`.
    const inner = (e as { inner?: { errMsg?: unknown; kind?: unknown } }).inner;
    if (inner && typeof inner.errMsg === "string") {
      return { ok: false, errMsg: inner.errMsg, kind: String(inner.kind) };
    }
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, errMsg: `uploadFile:fail ${why}`, kind: "internal" };
  }
}

/** The engine over `bindings`. */
export function engineOf(bindings: Bindings): NativeUptask {
  return {
    start(request, events) {
      const task = bindings.uploadFile({
        url: request.url,
        filePath: request.filePath,
        name: request.name,
        header: request.header.map(([name, value]) => ({ name, value })),
        formData: request.formData.map(([name, value]) => ({ name, value })),
        fileName: request.fileName,
        timeoutMs: request.timeoutMs === undefined ? undefined : BigInt(request.timeoutMs),
        protocol: request.protocol,
        resumeStore: request.resumeStore,
        partSize: request.partSize === undefined ? undefined : BigInt(request.partSize),
        concurrency: request.concurrency,
      });
      // Each listener is first given what it missed, so none of the events of an upload
      // that is quicker than these calls is lost; settled comes last, once the others.
      task.onProgressUpdate({ onProgress: (p) => events.progress(progressOf(p)) });
      task.onHeadersReceived({ onHeaders: (h) => events.headers(Object.fromEntries(h)) });
      task.onSettled({ onSettled: () => events.settled(outcomeOf(task)) });
      return {
        abort() {
          task.abort();
        },
      };
    },
  };
}
