// One uploadFile call: the Promise-and-task object, the order in which the app hears of the
// outcome, and the engine's events turned into Taro's shapes.

import type { NativeOutcome, NativeUpload, NativeUptask } from "./native";
import { InvalidOption, isGiven, parseOption } from "./options";
import { Listeners, call, listenerOf } from "./listeners";
import { taskPromise } from "./shared/task.js";
import type {
  HeadersReceivedResult,
  UploadFileError,
  UploadFileSuccessResult,
  UploadProgress,
  UploadTask,
} from "./shared/uptask";
import type { UploadFileOption } from "./types";

type Callback<T> = ((value: T) => void) | undefined;

function callbackOf<T>(option: unknown, key: string): Callback<T> {
  if (typeof option !== "object" || option === null) {
    return undefined;
  }
  const f = (option as Record<string, unknown>)[key];
  // Anything but a function in their place is ignored, as in WeChat.
  return typeof f === "function" ? (f as (value: T) => void) : undefined;
}

/** An `Error` whose message is the errMsg, with `errMsg` as a property too. */
function failure(errMsg: string): UploadFileError {
  const error = new Error(errMsg) as UploadFileError;
  error.errMsg = errMsg;
  return error;
}

/**
 * Taro's `uploadFile` over `native`: the returned Promise is also the UploadTask.
 *
 * The upload starts once this call has returned, so listeners added right away hear every
 * event, and an `abort()` right away stops it before anything is sent. `success` (or `fail`)
 * and then `complete` run before the Promise settles.
 */
export function makeUploadFile(native: NativeUptask): (option: UploadFileOption) => UploadTask {
  return function uploadFile(option: UploadFileOption): UploadTask {
    const progress = new Listeners<UploadProgress>();
    const headers = new Listeners<HeadersReceivedResult>();
    const success = callbackOf<UploadFileSuccessResult>(option, "success");
    const fail = callbackOf<UploadFileError>(option, "fail");
    const complete = callbackOf<UploadFileSuccessResult | UploadFileError>(option, "complete");
    let upload: NativeUpload | undefined;
    let aborted = false;
    let settled = false;
    let settle: (outcome: NativeOutcome) => void = () => {};
    const promise = new Promise<UploadFileSuccessResult>((resolve, reject) => {
      settle = (outcome) => {
        if (settled) {
          return;
        }
        settled = true;
        if (outcome.ok) {
          for (const f of [success, complete]) {
            if (f) call(f, outcome.result);
          }
          resolve(outcome.result);
        } else {
          const error = failure(outcome.errMsg);
          for (const f of [fail, complete]) {
            if (f) call(f, error);
          }
          reject(error);
        }
      };
    });
    const control = {
      abort(): void {
        if (settled) {
          return;
        }
        if (upload) {
          upload.abort();
        } else {
          aborted = true;
        }
      },
      onProgressUpdate(f: unknown): void {
        progress.add(listenerOf(f, "onProgressUpdate"));
      },
      offProgressUpdate(f: unknown): void {
        progress.remove(isGiven(f) ? listenerOf(f, "offProgressUpdate") : undefined);
      },
      onHeadersReceived(f: unknown): void {
        headers.add(listenerOf(f, "onHeadersReceived"));
      },
      offHeadersReceived(f: unknown): void {
        headers.remove(isGiven(f) ? listenerOf(f, "offHeadersReceived") : undefined);
      },
    };
    void Promise.resolve().then(() => {
      if (aborted) {
        settle({ ok: false, errMsg: "uploadFile:fail abort", kind: "aborted" });
        return;
      }
      let request;
      try {
        request = parseOption(option);
      } catch (e) {
        // Not only ours: reading the app's objects runs its code (getters, toString).
        const why = e instanceof InvalidOption ? e.message : `parameter error: ${e instanceof Error ? e.message : String(e)}`;
        settle({ ok: false, errMsg: `uploadFile:fail ${why}`, kind: "invalidInput" });
        return;
      }
      try {
        upload = native.start(request, {
          progress: (p) => progress.emit(p),
          headers: (header) => headers.emit({ header }),
          settled: (outcome) => settle(outcome),
        });
      } catch (e) {
        // The native module itself failed (not installed, a JSI error): nothing was sent.
        const why = e instanceof Error ? e.message : String(e);
        settle({ ok: false, errMsg: `uploadFile:fail ${why}`, kind: "internal" });
      }
    });
    const handled = fail !== undefined || complete !== undefined;
    return taskPromise(promise, control, handled) as UploadTask;
  };
}
