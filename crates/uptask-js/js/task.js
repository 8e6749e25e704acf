// The object uploadFile returns: the result's Promise itself, carrying the UploadTask's
// methods (as Taro H5's Proxy does, but a real Promise, so `instanceof Promise` holds).
// The methods close over the promise rather than using `this`, so a method taken off the
// object (`const { abort } = task`) still works.
export function taskPromise(promise, control, failureHandled) {
  if (failureHandled) {
    // The page gave `fail` or `complete`: the failure reaches it there, so a task nobody
    // awaits must not also raise an unhandled rejection.
    promise.catch(() => {});
  }
  const methods = {
    abort() {
      control.abort();
    },
    onProgressUpdate(listener) {
      control.onProgressUpdate(listener);
    },
    offProgressUpdate(listener) {
      control.offProgressUpdate(listener);
    },
    onHeadersReceived(listener) {
      control.onHeadersReceived(listener);
    },
    offHeadersReceived(listener) {
      control.offHeadersReceived(listener);
    },
    // Taro's aliases, chainable here (on Taro H5 they return undefined).
    progress(listener) {
      control.onProgressUpdate(listener);
      return promise;
    },
    headersReceived(listener) {
      control.onHeadersReceived(listener);
      return promise;
    },
    headersReceive(listener) {
      control.onHeadersReceived(listener);
      return promise;
    },
  };
  return Object.assign(promise, methods);
}
