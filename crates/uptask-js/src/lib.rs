//! `uploadFile` for web pages: Taro's API over uptask's browser backend.
//!
//! Built with wasm-bindgen into an ES module (`scripts/build-js.sh` writes it to
//! `crates/uptask-js/pkg`, TypeScript declarations included). The call is a drop-in for
//! `Taro.uploadFile` on H5: it returns one object that is both a `Promise` of the result and
//! the `UploadTask`.
//!
//! ```js
//! import init, { uploadFile } from './pkg/uptask_js.js';
//! await init();
//!
//! const task = uploadFile({
//!   url: 'http://127.0.0.1:8080/upload',
//!   file: input.files[0],               // or filePath: a blob: URL, as Taro's chooseImage gives
//!   name: 'file',
//!   formData: { album: 'holidays' },
//!   success: (res) => console.log(res.statusCode, res.data),
//! });
//! task.progress((p) => bar.value = p.progress)
//!     .headersReceived((h) => console.log(h.header['content-type']));
//! const res = await task;                // or task.abort() to stop it: uploadFile:fail abort
//! ```
//!
//! Where it differs from Taro H5, on purpose: `abort()` works at any time (before the bytes
//! start too); progress is never `NaN`; `onHeadersReceived` gets `{header}` as an object of
//! lower-cased names; `off*()` without an argument removes every listener, and a listener
//! removed during an event is not called; failures are `Error`s that also carry `errMsg`;
//! a `Content-Type` in `header` is ignored, so the body's boundary cannot be lost.
//!
//! Outside `wasm32` this crate is empty.

#![cfg(target_arch = "wasm32")]

mod call;
mod listeners;
mod shapes;
mod task;

use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("uptask.d.ts");

/// Starts an upload, as `Taro.uploadFile` / `wx.uploadFile`: returns at once with a `Promise`
/// of the result that is also the `UploadTask` (`abort`, `onProgressUpdate`,
/// `offProgressUpdate`, `onHeadersReceived`, `offHeadersReceived`, and the chainable
/// `progress`, `headersReceived`, `headersReceive`).
///
/// Options: `url`, `filePath` (a URL the page can fetch, such as a `blob:` URL) or `file` (a
/// `Blob` or `File`), `name`, and optionally `header`, `formData`, `timeout` (ms, default
/// 60000), `fileName`, `withCredentials` (default `true`, as Taro), `protocol`
/// (`"multipart"`, the default, `"tus"`, or `"s3"` with `signer`, `partSize` and
/// `concurrency`), `success`, `fail`, `complete`. `success` then `complete` run before the
/// promise resolves; `fail` then `complete` before it rejects.
///
/// ```js
/// const res = await uploadFile({ url, file, name: 'file' });
/// console.log(res.errMsg, res.statusCode, res.header, res.data); // "uploadFile:ok" ...
///
/// // Straight to the bucket: the signer presigns each part, the page holds no keys.
/// const put = await uploadFile({
///   protocol: 's3', signer: 'https://app.example/s3', file, name: 'file',
///   header: { Authorization: `Bearer ${token}` },
/// });
/// console.log(put.uploadUrl); // s3://bucket/uploads/...
/// ```
#[wasm_bindgen(js_name = uploadFile, unchecked_return_type = "UploadTask")]
#[must_use]
pub fn upload_file(
    #[wasm_bindgen(unchecked_param_type = "UploadFileOption")] option: JsValue,
) -> JsValue {
    task::start(option)
}
