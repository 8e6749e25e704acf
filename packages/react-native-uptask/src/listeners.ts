// The app's listeners of one event, under the browser package's rules: adding a function
// that is already there does nothing; off(fn) removes it, off() removes all; a listener
// removed while an event is being delivered is not called for it, and removing one never
// makes another be skipped; a listener that throws is reported and the others still run.

/** Reports what an app's function threw without letting it reach uptask. */
export function report(thrown: unknown): void {
  const reportError = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (typeof reportError === "function") {
    reportError(thrown);
  } else {
    console.error("uptask: a listener threw", thrown);
  }
}

/** Calls `f` with `arg`, reporting what it throws. */
export function call<T>(f: (arg: T) => void, arg: T): void {
  try {
    f(arg);
  } catch (thrown) {
    report(thrown);
  }
}

/** Checks that an app passed a function, as the browser package does. */
export function listenerOf<T>(value: unknown, method: string): (arg: T) => void {
  if (typeof value !== "function") {
    throw new TypeError(`${method}: the listener must be a function`);
  }
  return value as (arg: T) => void;
}

export class Listeners<T> {
  private list: Array<(arg: T) => void> = [];

  add(f: (arg: T) => void): void {
    if (!this.list.includes(f)) {
      this.list.push(f);
    }
  }

  /** Removes `f`, or every listener when `f` is left out. */
  remove(f?: (arg: T) => void): void {
    this.list = f === undefined ? [] : this.list.filter((g) => g !== f);
  }

  /** Delivers `event` to the listeners there now, skipping any removed on the way. */
  emit(event: T): void {
    for (const f of [...this.list]) {
      if (this.list.includes(f)) {
        call(f, event);
      }
    }
  }
}
