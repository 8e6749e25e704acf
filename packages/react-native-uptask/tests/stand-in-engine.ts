// A STAND-IN for the native engine, for the tests of the package's own JavaScript logic
// (argument checks, the Promise-and-task object, listener rules, the order of callbacks).
// It sends nothing: each test drives the events by hand. The tests over the real engine
// are in engine.test.ts.

import type { NativeEvents, NativeRequest, NativeUpload, NativeUptask } from "../src/native";

/** One upload the stand-in was asked to start. */
export interface StandInUpload {
  request: NativeRequest;
  events: NativeEvents;
  aborts: number;
}

export class StandInEngine implements NativeUptask {
  readonly started: StandInUpload[] = [];
  /** Set to make `start` throw, as a native module that is not installed does. */
  failToStart: Error | undefined;

  start(request: NativeRequest, events: NativeEvents): NativeUpload {
    if (this.failToStart) throw this.failToStart;
    const upload: StandInUpload = { request, events, aborts: 0 };
    this.started.push(upload);
    return {
      abort() {
        upload.aborts += 1;
      },
    };
  }

  /** The only upload started, once the layer has started it. */
  async only(): Promise<StandInUpload> {
    await Promise.resolve();
    const [upload, ...more] = this.started;
    if (!upload || more.length > 0) {
      throw new Error(`expected one upload started, got ${this.started.length}`);
    }
    return upload;
  }
}
