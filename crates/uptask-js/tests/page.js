// Scenarios written the way a page uses the package: plain JavaScript calling uploadFile.
// Each resolves with a summary or rejects with what went wrong; tests/page.rs runs them in
// headless Chromium against `uptask serve` (another origin: every request is CORS).

function check(ok, what, seen) {
  if (!ok) throw new Error(`${what}; seen: ${JSON.stringify(seen)}`);
}

function bytes(len) {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = i % 251;
  return b;
}

// A page's File, as an <input type=file> gives.
function file(len, name) {
  return new File([bytes(len)], name, { type: 'application/octet-stream' });
}

// The Taro flow: callbacks, chained listeners and the awaited promise, in their order.
export async function taroFlow(uploadFile, server) {
  const log = [];
  const task = uploadFile({
    url: `${server}/upload`,
    file: file(3 << 20, 'photo.jpg'),
    name: 'file',
    formData: { album: 'js', n: 7 },
    // Taro H5 sends this as is and the server cannot find the parts (#15571).
    header: { 'Content-Type': 'multipart/form-data', 'X-Trace': 'abc' },
    success: (res) => log.push(`success ${res.statusCode}`),
    fail: (err) => log.push(`fail ${err.errMsg}`),
    complete: () => log.push('complete'),
  });
  check(task instanceof Promise, 'the task is a Promise', typeof task);
  const progress = [];
  const chained = task
    .progress((p) => {
      progress.push(p);
      log.push('progress');
    })
    .headersReceived((h) => log.push(`headers ${typeof h.header} ${h.header['content-type']}`));
  check(chained === task, 'progress() and headersReceived() chain', null);
  const res = await task.then((r) => {
    log.push('then');
    return r;
  });
  check(res.errMsg === 'uploadFile:ok' && res.statusCode === 200, 'uploadFile:ok 200', res);
  check(res.header['content-type'].startsWith('application/json'), 'result header', res.header);
  const t = res.profile;
  check(
    t && t.invokeStart <= t.requestStart && t.requestStart <= t.requestEnd &&
      t.requestEnd <= t.responseStart && t.responseStart <= t.responseEnd &&
      t.sendBytesCount === progress[progress.length - 1].totalBytesExpectedToSend &&
      Math.abs(t.invokeStart - Date.now()) < 60_000,
    'the profile orders the request and response',
    t,
  );
  const reply = JSON.parse(res.data);
  check(reply.files[0].field === 'file' && reply.files[0].fileName === 'photo.jpg', 'file part', reply);
  check(reply.files[0].size === 3 << 20, 'file size', reply);
  check(reply.fields.album === 'js' && reply.fields.n === '7', 'formData', reply.fields);
  // progress... headers, then success, complete and only then the promise.
  const squeezed = log.filter((e, i) => e !== 'progress' || log[i - 1] !== 'progress');
  check(
    JSON.stringify(squeezed) ===
      JSON.stringify(['progress', 'headers object application/json', 'success 200', 'complete', 'then']),
    'event order',
    log,
  );
  for (let i = 0; i < progress.length; i++) {
    const p = progress[i];
    check(Number.isInteger(p.progress) && p.progress >= 0 && p.progress <= 100, 'integer percent', p);
    check(i === 0 || progress[i - 1].totalBytesSent <= p.totalBytesSent, 'monotonic', progress);
  }
  const last = progress[progress.length - 1];
  check(last.progress === 100 && last.totalBytesSent === last.totalBytesExpectedToSend, 'ends at 100', last);
  return `${progress.length} progress events`;
}

// off() semantics: by identity, all without an argument, no duplicates, no skipping, and a
// listener that throws is reported to the page while the others still run.
export async function offSemantics(uploadFile, server) {
  const calls = { a: 0, b: 0, c: 0, h: 0, thrower: 0 };
  const reported = [];
  const onError = (e) => {
    if (e.error && e.error.message === 'listener boom') {
      reported.push(e.error.message);
      e.preventDefault();
    }
  };
  window.addEventListener('error', onError);
  try {
    const task = uploadFile({ url: `${server}/upload`, file: file(2 << 20, 'off.bin'), name: 'file' });
    const thrower = () => {
      calls.thrower++;
      throw new Error('listener boom');
    };
    const b = () => calls.b++;
    const a = () => {
      if (calls.a++ === 0) task.offProgressUpdate(b); // before b's turn in this same event
    };
    const c = () => calls.c++;
    task.onProgressUpdate(thrower);
    task.onProgressUpdate(a);
    task.onProgressUpdate(b);
    task.onProgressUpdate(c);
    task.onProgressUpdate(c); // already there: still called once per event
    task.offProgressUpdate(() => {}); // not registered: nothing happens
    const h1 = () => calls.h++;
    task.onHeadersReceived(h1);
    task.headersReceive(() => calls.h++);
    task.offHeadersReceived(); // every headers listener
    let late = 0;
    task.onHeadersReceived(() => late++);
    const res = await task;
    check(res.statusCode === 200, 'uploaded', res);
    check(calls.a >= 1 && calls.b === 0, 'b removed during the first event is never called', calls);
    check(calls.c === calls.a && calls.thrower === calls.a, 'every remaining listener, once per event', calls);
    check(calls.h === 0 && late === 1, 'offHeadersReceived() removed all; the later one ran once', { calls, late });
    check(reported.length === calls.thrower, 'thrown errors reported to the page', reported);
    let typeError = null;
    try {
      task.onProgressUpdate('not a function');
    } catch (e) {
      typeError = e;
    }
    check(typeError instanceof TypeError, 'a non-function listener is a TypeError', String(typeError));
    return calls;
  } finally {
    window.removeEventListener('error', onError);
  }
}

// Taro H5 ignores an abort that comes while the file is still being read and uploads anyway.
export async function abortBeforeSend(uploadFile, server) {
  const path = URL.createObjectURL(new Blob([bytes(1 << 20)]));
  const log = [];
  const task = uploadFile({
    url: `${server}/upload`,
    filePath: path,
    name: 'file',
    fail: (e) => log.push(`fail ${e.errMsg}`),
    complete: (e) => log.push(`complete ${e.errMsg}`),
  });
  task.onProgressUpdate(() => log.push('progress'));
  task.onHeadersReceived(() => log.push('headers'));
  task.abort();
  let err = null;
  try {
    await task;
  } catch (e) {
    err = e;
    log.push('catch');
  }
  URL.revokeObjectURL(path);
  check(err instanceof Error && err.errMsg === 'uploadFile:fail abort', 'an abort error', String(err));
  check(err.message === 'uploadFile:fail abort', 'message = errMsg', err.message);
  check(
    JSON.stringify(log) ===
      JSON.stringify(['fail uploadFile:fail abort', 'complete uploadFile:fail abort', 'catch']),
    'nothing sent, fail then complete then the rejection',
    log,
  );
  task.abort(); // again, after the end: harmless
  return log;
}

// filePath as Taro's chooseImage gives it (a blob: URL), the name from fileName.
export async function filePathAndFileName(uploadFile, server) {
  const path = URL.createObjectURL(new Blob([bytes(700_001)]));
  const res = await uploadFile({
    url: `${server}/upload`,
    filePath: path,
    name: 'doc',
    fileName: 'report.pdf',
    withCredentials: false,
  });
  URL.revokeObjectURL(path);
  const stored = JSON.parse(res.data).files[0];
  check(stored.field === 'doc' && stored.fileName === 'report.pdf' && stored.size === 700_001, 'stored', stored);
  let unreadable = null;
  try {
    await uploadFile({ url: `${server}/upload`, filePath: path, name: 'doc' }); // revoked now
  } catch (e) {
    unreadable = e.errMsg;
  }
  check(/^uploadFile:fail filePath blob:.* cannot be read/.test(unreadable), 'a revoked blob: URL', unreadable);
  return stored;
}

// An HTTP error status is a success carrying it (WeChat's rule), even when the server answers
// before the body is sent.
export async function early413(uploadFile, server) {
  const res = await uploadFile({ url: `${server}/upload`, file: file(12 << 20, 'big.bin'), name: 'file' });
  check(res.statusCode === 413 && res.errMsg === 'uploadFile:ok', '413 as the result', res);
  return res.statusCode;
}

// Bad options fail through fail/complete and the promise, with WeChat's errMsg.
export async function parameterErrors(uploadFile, server) {
  const seen = [];
  for (const option of [
    { filePath: 'blob:x', name: 'file' },
    { url: `${server}/upload`, name: 'file' },
    { url: `${server}/upload`, file: 'not a blob', name: 'file' },
    { url: `${server}/upload`, file: new Blob(['x']), name: 'file', header: { 'X-Bad': 'a\r\nInjected: 1' } },
  ]) {
    let failed = null;
    const task = uploadFile({ ...option, fail: (e) => (failed = e.errMsg) });
    const rejected = await task.then(
      () => null,
      (e) => e.errMsg,
    );
    check(failed !== null && failed === rejected && failed.startsWith('uploadFile:fail '), 'fails', { option, failed });
    seen.push(failed);
  }
  return seen;
}

// Several files in one request, uni-app's way, after a Taro-style first file.
export async function severalFiles(uploadFile, server) {
  const path = URL.createObjectURL(new Blob([bytes(1000)]));
  const seen = [];
  const res = await uploadFile({
    url: `${server}/upload`,
    file: file(300_000, 'front.jpg'),
    name: 'photo',
    files: [
      { name: 'photo', file: file(200_000, 'back.jpg') },
      { name: 'note', uri: path },
    ],
    formData: { album: 'trip' },
  }).progress((p) => seen.push(p));
  URL.revokeObjectURL(path);
  const stored = JSON.parse(res.data).files.map((f) => `${f.field} ${f.fileName} ${f.size}`);
  check(
    JSON.stringify(stored) === JSON.stringify(['photo front.jpg 300000', 'photo back.jpg 200000', 'note blob 1000']),
    'every file, in order',
    stored,
  );
  const last = seen[seen.length - 1];
  check(last.progress === 100 && last.totalBytesExpectedToSend > 501_000, 'progress over the whole body', last);
  return stored;
}

// The same call as a tus upload: this package's one addition to Taro's options.
export async function tusProtocol(uploadFile, server) {
  const res = await uploadFile({
    url: `${server}/files/`,
    file: file((2 << 20) + 5, 'resumable.bin'),
    name: 'file',
    protocol: 'tus',
  });
  check(res.statusCode === 204 && res.uploadUrl.startsWith(`${server}/files/`), 'tus upload', res);
  return res.uploadUrl;
}

// protocol "s3": straight to the bucket through the signer's routes (`uptask serve --store`),
// the page holding no keys: a multipart upload in parts, a small file in one PUT, an upload
// aborted mid-way, and the signer refusing a call without its token. The script reads the
// bucket back afterwards and compares each object with these bytes.
export async function s3Signer(uploadFile, signer, token) {
  const auth = { Authorization: `Bearer ${token}` };
  const seen = [];
  const order = [];
  const task = uploadFile({
    protocol: 's3',
    signer,
    file: file((12 << 20) + 3, 'signed.bin'),
    name: 'file',
    header: auth,
    formData: { album: 'page' },
    partSize: 5 << 20,
    concurrency: 2,
  });
  task.onProgressUpdate((p) => {
    seen.push(p);
    order.push('progress');
  });
  task.onHeadersReceived(() => order.push('headers'));
  const res = await task;
  check(res.errMsg === 'uploadFile:ok' && res.statusCode === 200, 'completed', res);
  check(typeof res.uploadUrl === 'string' && res.uploadUrl.startsWith('s3://signed/'), 'the object location', res);
  for (let i = 1; i < seen.length; i++) {
    check(seen[i].totalBytesSent >= seen[i - 1].totalBytesSent, 'progress never goes back', [seen[i - 1], seen[i]]);
  }
  const last = seen[seen.length - 1];
  check(
    last.progress === 100 && last.totalBytesSent === (12 << 20) + 3 && last.totalBytesExpectedToSend === (12 << 20) + 3,
    'progress ends at the file size',
    last,
  );
  check(order.filter((e) => e === 'headers').length === 1, 'headers once', order);

  const small = await uploadFile({ protocol: 's3', signer, file: file(1 << 20, 'small.bin'), name: 'file', header: auth });
  check(small.statusCode === 200 && small.uploadUrl.includes('/signed/'), 'one PUT of a small file', small);

  const aborted = uploadFile({
    protocol: 's3',
    signer,
    file: file(12 << 20, 'aborted.bin'),
    name: 'file',
    header: auth,
    partSize: 5 << 20,
    concurrency: 1,
  });
  aborted.onProgressUpdate((p) => {
    if (p.progress >= 10) aborted.abort();
  });
  const outcome = await aborted.then(
    (r) => `resolved ${r.statusCode}`,
    (e) => e.errMsg,
  );
  check(outcome === 'uploadFile:fail abort', 'abort mid-upload', outcome);

  const refused = await uploadFile({ protocol: 's3', signer, file: file(1000, 'x.bin'), name: 'file' });
  check(refused.statusCode === 401 && refused.data.includes('token'), "the signer's refusal is the result", refused);

  const errors = [];
  for (const option of [
    { protocol: 's3', file: file(10, 'a'), name: 'file' },
    { protocol: 's3', signer, url: `${signer}/other`, file: file(10, 'a'), name: 'file' },
    { protocol: 's3', signer, partSize: -1, file: file(10, 'a'), name: 'file' },
    { protocol: 'tus', url: signer, signer, file: file(10, 'a'), name: 'file' },
  ]) {
    errors.push(await uploadFile(option).then(() => 'resolved', (e) => e.errMsg));
  }
  check(errors.every((e) => e.startsWith('uploadFile:fail ')), 'bad s3 options fail', errors);
  return { location: res.uploadUrl, small: small.uploadUrl, errors };
}

// protocol "s3" through @uppy/companion itself (no token there): a multipart upload, and a
// small file Companion offers a browser's POST form for, which goes as one part. The script
// reads both objects back from the bucket.
export async function s3ThroughCompanion(uploadFile, signer) {
  const seen = [];
  for (const [name, len] of [['companion-parts.bin', (12 << 20) + 3], ['companion-small.bin', 1 << 20]]) {
    let last = null;
    const res = await uploadFile({ protocol: 's3', signer, file: file(len, name), name: 'file', partSize: 5 << 20 })
      .progress((p) => (last = p));
    check(res.statusCode === 200 && res.uploadUrl.includes('/companion/') && res.uploadUrl.endsWith(name), 'uploaded through Companion', res);
    check(last && last.progress === 100 && last.totalBytesSent === len, 'progress to the file size', last);
    seen.push(res.uploadUrl);
  }
  return seen;
}
