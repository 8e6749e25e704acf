// The package's JavaScript logic, over a STAND-IN for the native engine
// (tests/stand-in-engine.ts): argument checks and their errMsg strings, the Promise that is
// the task, off() rules, callback order. The same layer over the real engine: engine.test.ts.

import { test } from "node:test";
import assert from "node:assert/strict";
import { makeUploadFile } from "../src/upload";
import type { UploadFileError, UploadFileOption, UploadProgress } from "../src/types";
import { StandInEngine } from "./stand-in-engine";

const ok = { errMsg: "uploadFile:ok" as const, statusCode: 200, header: { "x-a": "1" }, data: "{}" };
const progress = (n: number): UploadProgress => ({ progress: n, totalBytesSent: n, totalBytesExpectedToSend: 100 });
const base = { url: "https://up.example/upload", filePath: "/data/photo.jpg", name: "file" };

function setup() {
  const engine = new StandInEngine();
  return { engine, uploadFile: makeUploadFile(engine) };
}

/** The errMsg a call fails with, checking it fails the way pages see it fail. */
async function failure(option: unknown): Promise<string> {
  const { engine, uploadFile } = setup();
  const heard: string[] = [];
  const callbacks = {
    fail: (e: UploadFileError) => heard.push(`fail ${e.errMsg}`),
    complete: () => heard.push("complete"),
  };
  // Not an object: nowhere to put callbacks, only the Promise tells.
  const given = typeof option === "object" && option !== null;
  const task = uploadFile((given ? { ...option, ...callbacks } : option) as UploadFileOption);
  const error = await task.then(
    () => assert.fail("the call succeeded"),
    (e: UploadFileError) => e,
  );
  assert.ok(error instanceof Error);
  assert.equal(error.message, error.errMsg);
  assert.deepEqual(heard, given ? [`fail ${error.errMsg}`, "complete"] : []);
  assert.equal(engine.started.length, 0, "the engine was asked to start it");
  return error.errMsg;
}

test("the value is a real Promise carrying the task's methods, which work taken off it", async () => {
  const { engine, uploadFile } = setup();
  const task = uploadFile(base);
  assert.ok(task instanceof Promise);
  const { onProgressUpdate, abort } = task;
  const seen: number[] = [];
  onProgressUpdate((p) => seen.push(p.progress));
  const upload = await engine.only();
  upload.events.progress(progress(40));
  abort();
  assert.equal(upload.aborts, 1);
  upload.events.settled({ ok: false, errMsg: "uploadFile:fail abort", kind: "aborted" });
  await assert.rejects(task, (e: UploadFileError) => e.errMsg === "uploadFile:fail abort");
  assert.deepEqual(seen, [40]);
});

test("bad calls fail with the browser package's messages, before the engine is asked", async () => {
  const cases: Array<[unknown, string]> = [
    [undefined, "uploadFile:fail parameter error: uploadFile takes an options object"],
    [{ filePath: "/a", name: "f" }, "uploadFile:fail parameter error: url is required"],
    [{ ...base, url: 5 }, "uploadFile:fail parameter error: url must be a string"],
    [{ url: base.url, filePath: "/a" }, "uploadFile:fail parameter error: name is required"],
    [{ url: base.url, name: "f" }, "uploadFile:fail parameter error: filePath (a path or file:// URI) is required"],
    [{ ...base, protocol: "ftp" }, 'uploadFile:fail parameter error: protocol "ftp" is not "multipart", "tus" or "s3"'],
    [{ ...base, protocol: "s3" }, 'uploadFile:fail parameter error: protocol "s3" needs signer, the URL of the S3 routes that presign each part (e.g. https://host/s3); an app never holds the store\'s keys'],
    [{ ...base, partSize: 8 << 20 }, 'uploadFile:fail parameter error: partSize is for protocol "s3"'],
    [{ ...base, signer: "https://s/s3" }, 'uploadFile:fail parameter error: signer is for protocol "s3"'],
    [{ ...base, protocol: "s3", signer: "https://s/s3", concurrency: 1.5 }, "uploadFile:fail parameter error: concurrency must be a positive whole number"],
    [{ ...base, protocol: "s3", signer: "https://s/s3", partSize: 0 }, "uploadFile:fail parameter error: partSize must be a positive whole number"],
    [{ ...base, header: "x" }, "uploadFile:fail parameter error: header must be an object"],
    [{ ...base, files: [{ name: "b", uri: "/b" }] }, "uploadFile:fail parameter error: files is not supported on React Native: one file (filePath) per uploadFile call"],
    [{ ...base, filePath: undefined, file: {} }, "uploadFile:fail parameter error: file (a Blob) is for the browser; on React Native give filePath, a path or file:// URI"],
    [{ ...base, filePath: "content://media/1" }, "uploadFile:fail parameter error: filePath content://media/1 is not a file on the device (a path or a file:// URI); copy content:// and ph:// assets to a file first"],
    [{ ...base, filePath: "file:///a%zz" }, "uploadFile:fail parameter error: filePath file:///a%zz is not a valid file:// URI"],
    [{ ...base, resumeStore: "/r" }, 'uploadFile:fail parameter error: resumeStore is for protocol "tus" or "s3"'],
    [{ ...base, protocol: "tus", resumeStore: "content://x/y" }, "uploadFile:fail parameter error: resumeStore content://x/y is not a file on the device (a path or a file:// URI); copy content:// and ph:// assets to a file first"],
    // String(value) of an object without toString throws: the app's own object, the app's error.
    [{ ...base, formData: { a: Object.create(null) } }, "uploadFile:fail parameter error: Cannot convert object to primitive value"],
  ];
  for (const [option, errMsg] of cases) {
    assert.equal(await failure(option), errMsg, JSON.stringify(option));
  }
});

test("the options reach the engine checked and flattened", async () => {
  const { engine, uploadFile } = setup();
  void uploadFile({
    url: "https://up.example/files/",
    filePath: "file:///data/user/0/app/cache/My%20Clip.mp4",
    name: "video",
    fileName: "clip.mp4",
    header: { Authorization: "Bearer t", "Content-Type": "text/plain", n: 1 },
    formData: { album: "trip", count: 2, ok: true },
    timeout: 1500.5,
    protocol: "tus",
    resumeStore: "file://localhost/data/user/0/app/files/uploads",
  }).catch(() => {});
  const { request } = await engine.only();
  assert.deepEqual(request, {
    url: "https://up.example/files/",
    filePath: "/data/user/0/app/cache/My Clip.mp4",
    name: "video",
    fileName: "clip.mp4",
    header: [
      ["Authorization", "Bearer t"],
      ["n", "1"],
    ],
    formData: [
      ["album", "trip"],
      ["count", "2"],
      ["ok", "true"],
    ],
    timeoutMs: 1501,
    protocol: "tus",
    resumeStore: "/data/user/0/app/files/uploads",
  });
});

test("s3 goes to the signer, with its part size and concurrency; a 0 timeout is the default", async () => {
  const { engine, uploadFile } = setup();
  void uploadFile({ ...base, url: "https://app.example/s3", protocol: "s3", signer: "https://app.example/s3", partSize: 16 << 20, concurrency: 2, timeout: 0 }).catch(() => {});
  const { request } = await engine.only();
  assert.equal(request.url, "https://app.example/s3");
  assert.equal(request.protocol, "s3");
  assert.equal(request.partSize, 16 << 20);
  assert.equal(request.concurrency, 2);
  assert.equal(request.timeoutMs, undefined);
});

test("success, then complete, then the Promise; progress and headers in their shapes", async () => {
  const { engine, uploadFile } = setup();
  const order: string[] = [];
  const task = uploadFile({
    ...base,
    success: (r) => order.push(`success ${r.statusCode}`),
    complete: (r) => order.push(`complete ${r.errMsg}`),
  });
  const chained = task
    .progress((p) => order.push(`progress ${p.progress}/${p.totalBytesSent}`))
    .headersReceived((h) => order.push(`headers ${h.header["x-a"]}`))
    .headersReceive(() => order.push("headersReceive"));
  assert.equal(chained, task, "the aliases chain on the task itself");
  const upload = await engine.only();
  upload.events.progress(progress(100));
  upload.events.headers({ "x-a": "1" });
  upload.events.settled({ ok: true, result: ok });
  const res = await task;
  order.push("then");
  assert.deepEqual(res, ok);
  assert.deepEqual(order, ["progress 100/100", "headers 1", "headersReceive", "success 200", "complete uploadFile:ok", "then"]);
});

test("off(fn) removes that listener, off() all; a listener is added once", async () => {
  const { engine, uploadFile } = setup();
  const task = uploadFile(base);
  const seen: string[] = [];
  const a = (p: UploadProgress) => seen.push(`a${p.progress}`);
  const b = (p: UploadProgress) => seen.push(`b${p.progress}`);
  task.onProgressUpdate(a);
  task.onProgressUpdate(a);
  task.onProgressUpdate(b);
  const upload = await engine.only();
  upload.events.progress(progress(10));
  task.offProgressUpdate(a);
  upload.events.progress(progress(20));
  task.offProgressUpdate();
  upload.events.progress(progress(30));
  const h: string[] = [];
  task.onHeadersReceived(() => h.push("x"));
  task.offHeadersReceived(undefined);
  upload.events.headers({});
  assert.deepEqual(seen, ["a10", "b10", "b20"]);
  assert.deepEqual(h, []);
  upload.events.settled({ ok: true, result: ok });
  await task;
});

test("a listener removed during an event is not called for it, and none is skipped", async () => {
  const { engine, uploadFile } = setup();
  const task = uploadFile(base);
  const seen: string[] = [];
  const c = () => seen.push("c");
  const b = () => {
    seen.push("b");
    task.offProgressUpdate(b);
  };
  task.onProgressUpdate(() => {
    seen.push("a");
    task.offProgressUpdate(c);
  });
  task.onProgressUpdate(b);
  task.onProgressUpdate(c);
  const upload = await engine.only();
  upload.events.progress(progress(1));
  upload.events.progress(progress(2));
  assert.deepEqual(seen, ["a", "b", "a"]);
  upload.events.settled({ ok: true, result: ok });
  await task;
});

test("a listener that throws is reported, and the others and the upload go on", async () => {
  const { engine, uploadFile } = setup();
  const reported: unknown[] = [];
  const saved = (globalThis as { reportError?: unknown }).reportError;
  (globalThis as { reportError?: unknown }).reportError = (e: unknown) => reported.push(e);
  try {
    const task = uploadFile({
      ...base,
      success: () => {
        throw new Error("success bug");
      },
    });
    const seen: number[] = [];
    task.onProgressUpdate(() => {
      throw new Error("listener bug");
    });
    task.onProgressUpdate((p) => seen.push(p.progress));
    const upload = await engine.only();
    upload.events.progress(progress(50));
    upload.events.settled({ ok: true, result: ok });
    assert.deepEqual(await task, ok);
    assert.deepEqual(seen, [50]);
    assert.deepEqual(
      reported.map((e) => (e as Error).message),
      ["listener bug", "success bug"],
    );
  } finally {
    (globalThis as { reportError?: unknown }).reportError = saved;
  }
});

test("listeners must be functions: a TypeError naming the method", async () => {
  const { engine, uploadFile } = setup();
  const task = uploadFile(base);
  const t = task as unknown as Record<string, (f: unknown) => void>;
  for (const method of ["onProgressUpdate", "offProgressUpdate", "onHeadersReceived", "offHeadersReceived"]) {
    assert.throws(() => t[method]?.("nope"), { name: "TypeError", message: `${method}: the listener must be a function` });
  }
  (await engine.only()).events.settled({ ok: true, result: ok });
  await task;
});

test("abort right away: nothing starts; abort after the end does nothing", async () => {
  const { engine, uploadFile } = setup();
  const task = uploadFile(base);
  task.abort();
  await assert.rejects(task, (e: UploadFileError) => e.errMsg === "uploadFile:fail abort");
  assert.equal(engine.started.length, 0);

  const done = uploadFile(base);
  const upload = await engine.only();
  upload.events.settled({ ok: true, result: ok });
  await done;
  done.abort();
  assert.equal(upload.aborts, 0);
});

test("the engine's failure reaches fail, complete and the Promise with its errMsg", async () => {
  const { engine, uploadFile } = setup();
  const heard: string[] = [];
  const task = uploadFile({ ...base, fail: (e) => heard.push(e.errMsg), complete: (e) => heard.push(`complete ${e.errMsg}`) });
  (await engine.only()).events.settled({ ok: false, errMsg: "uploadFile:fail cannot connect to up.example:443", kind: "connect" });
  await assert.rejects(task, { message: "uploadFile:fail cannot connect to up.example:443" });
  assert.deepEqual(heard, ["uploadFile:fail cannot connect to up.example:443", "complete uploadFile:fail cannot connect to up.example:443"]);
});

test("a native module that cannot start is a failure, not an exception out of uploadFile", async () => {
  const { engine, uploadFile } = setup();
  engine.failToStart = new Error("the uptask TurboModule is not installed");
  await assert.rejects(uploadFile(base), { message: "uploadFile:fail the uptask TurboModule is not installed" });
});

test("with fail or complete given, a task nobody awaits raises no unhandled rejection", async () => {
  const { engine, uploadFile } = setup();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on("unhandledRejection", onUnhandled);
  try {
    let failed = false;
    uploadFile({ ...base, fail: () => (failed = true) });
    (await engine.only()).events.settled({ ok: false, errMsg: "uploadFile:fail abort", kind: "aborted" });
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(failed);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});
