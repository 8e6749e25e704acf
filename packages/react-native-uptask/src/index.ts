// react-native-uptask: Taro's `uploadFile` for React Native, over uptask's engine installed
// as a JSI TurboModule.
//
//   import { uploadFile } from "react-native-uptask";
//
//   const task = uploadFile({ url: "https://example.com/upload", filePath, name: "file" });
//   task.onProgressUpdate(({ progress }) => setProgress(progress));
//   const res = await task; // or task.abort(): "uploadFile:fail abort"

import * as bindings from "./generated/index";
import { engineOf } from "./bindings";
import { makeUploadFile } from "./upload";

export type * from "./types";

/**
 * Uploads one file on the device and returns at once a Promise of the result that is also
 * the UploadTask (`abort`, `onProgressUpdate`, `onHeadersReceived`, their `off` forms and
 * the chainable `progress` / `headersReceived`). `protocol: "tus"` resumes across runs of
 * the app with `resumeStore`; `protocol: "s3"` goes straight to a bucket through a signer.
 */
export const uploadFile = makeUploadFile(engineOf(bindings));
