// Compiled (not run) by scripts/test-browser.sh with `tsc --noEmit --strict`: the package's
// declarations must accept the Taro-style calls below and reject misuse.
import { uploadFile, type UploadTask, type UploadFileSuccessResult } from '../pkg/uptask_js.js';

declare const file: File;

const task: UploadTask = uploadFile({
  url: 'http://127.0.0.1:8080/upload',
  file,
  name: 'file',
  header: { 'X-Trace': 'abc', 'X-Retry': 2 },
  formData: { album: 'holidays', n: 7 },
  timeout: 30_000,
  fileName: 'photo.jpg',
  withCredentials: false,
  success: (res) => console.log(res.statusCode, res.data, res.header['etag']),
  fail: (err) => console.log(err.errMsg, err instanceof Error),
  complete: () => {},
});
const percent = (p: { progress: number }) => console.log(p.progress);
task.progress(percent).headersReceived((h) => console.log(h.header['content-type'])).headersReceive(() => {});
task.onProgressUpdate((p) => console.log(p.totalBytesSent / p.totalBytesExpectedToSend));
task.offProgressUpdate(percent);
task.offProgressUpdate();
task.offHeadersReceived();
task.abort();

async function awaited(): Promise<number> {
  const res: UploadFileSuccessResult = await uploadFile({ url: 'http://127.0.0.1:8080/files/', filePath: 'blob:x', name: 'file', protocol: 'tus' });
  return res.statusCode + (res.uploadUrl?.length ?? 0);
}
void awaited;

uploadFile({ url: 'x', files: [{ name: 'a', file }, { name: 'b', uri: 'blob:y' }] });
uploadFile({ protocol: 's3', signer: 'https://app.example/s3', file, name: 'file', partSize: 16 << 20, concurrency: 6 });
// @ts-expect-error: protocol "s3" needs a signer
uploadFile({ url: 'x', file, name: 'file', protocol: 's3' });
// @ts-expect-error: protocol is "multipart", "tus" or "s3"
uploadFile({ url: 'x', file, name: 'file', protocol: 'ftp' });
// @ts-expect-error: a multipart upload needs its url
uploadFile({ file, name: 'file' });
// @ts-expect-error: name is required
uploadFile({ url: 'x', file });
