// Reading the options object an app passes to uploadFile, with the browser package's rules
// and messages, so the same wrong call fails with the same errMsg on every platform.

import type { NativeRequest } from "./native";

/** A call the options rule out: its message goes after "uploadFile:fail ". */
export class InvalidOption extends Error {}

type Bag = Record<string, unknown>;

export function isGiven(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function string(o: Bag, key: string, required: boolean): string | undefined {
  const value = o[key];
  if (typeof value === "string") {
    return value;
  }
  if (!isGiven(value)) {
    if (required) {
      throw new InvalidOption(`parameter error: ${key} is required`);
    }
    return undefined;
  }
  throw new InvalidOption(`parameter error: ${key} must be a string`);
}

/** An object's own enumerable entries, values as `String(value)` gives them. */
function entries(o: Bag, key: string): Array<[string, string]> {
  const value = o[key];
  if (!isGiven(value)) {
    return [];
  }
  if (typeof value !== "object") {
    throw new InvalidOption(`parameter error: ${key} must be an object`);
  }
  return Object.entries(value as Bag).map(([k, v]) => [k, String(v)]);
}

/** A positive whole number under `key`, if given. */
function count(o: Bag, key: string): number | undefined {
  const value = o[key];
  if (!isGiven(value)) {
    return undefined;
  }
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 1) {
    return value;
  }
  throw new InvalidOption(`parameter error: ${key} must be a positive whole number`);
}

/**
 * The path `value` (the option `key`) names: React Native's pickers and file systems give
 * either a plain path or a `file://` URI; the engine reads a path.
 */
function pathOf(value: string, key: string): string {
  if (!value.startsWith("file://")) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      throw new InvalidOption(
        `parameter error: ${key} ${value} is not a file on the device (a path or a file:// URI); copy content:// and ph:// assets to a file first`,
      );
    }
    return value;
  }
  // file:///data/x, and file://localhost/data/x as RFC 8089 allows.
  const rest = value.slice("file://".length);
  const path = rest.startsWith("localhost/") ? rest.slice("localhost".length) : rest;
  try {
    return decodeURIComponent(path);
  } catch {
    throw new InvalidOption(`parameter error: ${key} ${value} is not a valid file:// URI`);
  }
}

/** Checks the options; what it throws is what `fail` receives. */
export function parseOption(option: unknown): NativeRequest {
  if (typeof option !== "object" || option === null) {
    throw new InvalidOption("parameter error: uploadFile takes an options object");
  }
  const o = option as Bag;
  const protocol = string(o, "protocol", false) ?? "multipart";
  const s3 = protocol === "s3";
  if (protocol !== "multipart" && protocol !== "tus" && !s3) {
    throw new InvalidOption(
      `parameter error: protocol ${JSON.stringify(protocol)} is not "multipart", "tus" or "s3"`,
    );
  }
  let url: string;
  if (s3) {
    const signer = string(o, "signer", false);
    if (signer === undefined) {
      throw new InvalidOption(
        'parameter error: protocol "s3" needs signer, the URL of the S3 routes that presign each part (e.g. https://host/s3); an app never holds the store\'s keys',
      );
    }
    // Taro's `url` may repeat it.
    string(o, "url", false);
    url = signer;
  } else {
    for (const key of ["signer", "partSize", "concurrency"]) {
      if (isGiven(o[key])) {
        throw new InvalidOption(`parameter error: ${key} is for protocol "s3"`);
      }
    }
    url = string(o, "url", true) ?? "";
  }
  if (isGiven(o["files"])) {
    throw new InvalidOption(
      "parameter error: files is not supported on React Native: one file (filePath) per uploadFile call",
    );
  }
  if (isGiven(o["file"])) {
    throw new InvalidOption(
      "parameter error: file (a Blob) is for the browser; on React Native give filePath, a path or file:// URI",
    );
  }
  const filePath = string(o, "filePath", false);
  if (filePath === undefined) {
    throw new InvalidOption("parameter error: filePath (a path or file:// URI) is required");
  }
  // Taro sends its own value too; ours carries the boundary the body needs.
  const header = entries(o, "header").filter(([k]) => k.toLowerCase() !== "content-type");
  const timeout = o["timeout"];
  const request: NativeRequest = {
    url,
    filePath: pathOf(filePath, "filePath"),
    name: string(o, "name", true) ?? "",
    header,
    formData: entries(o, "formData"),
    protocol,
  };
  const fileName = string(o, "fileName", false);
  if (fileName !== undefined) {
    request.fileName = fileName;
  }
  // Taro's `timeout || 60000`: nothing, 0 and nonsense mean the default.
  if (typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0) {
    request.timeoutMs = Math.ceil(timeout);
  }
  const resumeStore = string(o, "resumeStore", false);
  if (resumeStore !== undefined) {
    if (protocol === "multipart") {
      throw new InvalidOption('parameter error: resumeStore is for protocol "tus" or "s3"');
    }
    request.resumeStore = pathOf(resumeStore, "resumeStore");
  }
  const partSize = s3 ? count(o, "partSize") : undefined;
  if (partSize !== undefined) {
    request.partSize = partSize;
  }
  const concurrency = s3 ? count(o, "concurrency") : undefined;
  if (concurrency !== undefined) {
    request.concurrency = concurrency;
  }
  return request;
}
