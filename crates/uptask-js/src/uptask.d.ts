/** What `onProgressUpdate` listeners receive. */
export interface UploadProgress {
  /** Whole percent sent, 0 to 100; never NaN (an empty body is 100). */
  progress: number;
  /** Body bytes sent so far, multipart framing included. */
  totalBytesSent: number;
  /** The whole body's length. */
  totalBytesExpectedToSend: number;
  /** Bytes per second over the last few seconds, once measured. */
  speed?: number;
  /** Seconds left at that speed (0 when all is sent), once known. */
  eta?: number;
}

/** What `onHeadersReceived` listeners receive: names lower-cased, repeats joined by ", ". */
export interface HeadersReceivedResult {
  header: Record<string, string>;
}

/** The result of a completed upload, whatever its HTTP status. */
export interface UploadFileSuccessResult {
  errMsg: "uploadFile:ok";
  statusCode: number;
  header: Record<string, string>;
  /** The response body as text. */
  data: string;
  /**
   * For `protocol: "tus"`: where the upload lives on the server. For `protocol: "s3"`: where
   * the object went (`s3://bucket/key` from `uptask serve`, the signer's `location`).
   */
  uploadUrl?: string;
  /** For multipart: when the request and the response started and ended (ms since the epoch). */
  profile?: UploadProfile;
}

/** WeChat's `profile`, as far as a page can see it. */
export interface UploadProfile {
  invokeStart: number;
  requestStart: number;
  requestEnd: number;
  responseStart: number;
  responseEnd: number;
  /** The body's length (the page does not see the request head). */
  sendBytesCount: number;
}

/** A failure: an `Error` whose message is also `errMsg`, e.g. "uploadFile:fail abort". */
export interface UploadFileError extends Error {
  errMsg: string;
}

/** One more file of the request (uni-app's `files`). */
export interface UploadFileEntry {
  /** Its form field. */
  name: string;
  /** The file itself; or uri. */
  file?: Blob;
  /** A URL the page can fetch it from (blob:...); or file. */
  uri?: string;
}

/** The options every call takes. */
export interface UploadFileCommon {
  /** Request headers; a Content-Type here is ignored (the body sets its own). */
  header?: Record<string, string | number | boolean>;
  /** Text fields sent before the file; values as String(value). */
  formData?: Record<string, unknown>;
  /** Milliseconds for the whole request; default (and for 0) 60000. */
  timeout?: number;
  /** Send cookies and HTTP auth cross-origin; default true, as Taro. */
  withCredentials?: boolean;
  success?: (result: UploadFileSuccessResult) => void;
  fail?: (error: UploadFileError) => void;
  complete?: (result: UploadFileSuccessResult | UploadFileError) => void;
}

/** One file, Taro's way (more may follow in files). */
export interface UploadOneFile {
  /** A URL the page can fetch the file from, usually a `blob:` URL. One of filePath or file. */
  filePath?: string;
  /** The file itself. One of filePath or file. */
  file?: Blob;
  /** The form field of the file. */
  name: string;
  /** The file name the server sees; default the File's name, else "blob". */
  fileName?: string;
  /** More files in the same request, after this one. */
  files?: UploadFileEntry[];
}

/** Several files in one request, uni-app's way. */
export interface UploadManyFiles {
  files: UploadFileEntry[];
}

/** An upload to a server's URL. */
export interface UploadToUrl {
  /** Where to send the file. */
  url: string;
  /** "multipart" (default): one multipart/form-data POST. "tus": a tus 1.0 upload of one file. */
  protocol?: "multipart" | "tus";
}

/** One file straight to an S3 store, through a signer: the page holds no keys. */
export interface UploadThroughSigner {
  protocol: "s3";
  /**
   * The base URL of the S3 routes of Uppy's Companion (`uptask serve --store s3://...` serves
   * them at `/s3`). It picks the key, presigns each part and completes the upload; `header`
   * goes to it, never to the store, and `formData` is the upload's metadata. The bucket's
   * CORS must let the page PUT and read `ETag`.
   */
  signer: string;
  /** Left out, or the same as signer. */
  url?: string;
  /** Bytes per part (at least 5 MiB; default 8 MiB). Smaller files go in one PUT. */
  partSize?: number;
  /** Parts sent at once (default 4). */
  concurrency?: number;
}

export type UploadFileOption = UploadFileCommon &
  (UploadToUrl | UploadThroughSigner) &
  (UploadOneFile | UploadManyFiles);

/** The value `uploadFile` returns: a Promise of the result that is also the task. */
export interface UploadTask extends Promise<UploadFileSuccessResult> {
  /** Stops the upload at any stage; the outcome is "uploadFile:fail abort". */
  abort(): void;
  onProgressUpdate(listener: (result: UploadProgress) => void): void;
  /** Without a listener, removes them all. */
  offProgressUpdate(listener?: (result: UploadProgress) => void): void;
  onHeadersReceived(listener: (result: HeadersReceivedResult) => void): void;
  /** Without a listener, removes them all. */
  offHeadersReceived(listener?: (result: HeadersReceivedResult) => void): void;
  /** Chainable alias of onProgressUpdate. */
  progress(listener: (result: UploadProgress) => void): UploadTask;
  /** Chainable alias of onHeadersReceived. */
  headersReceived(listener: (result: HeadersReceivedResult) => void): UploadTask;
  /** Taro 3's spelling of headersReceived. */
  headersReceive(listener: (result: HeadersReceivedResult) => void): UploadTask;
}
