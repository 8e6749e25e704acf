//! One `uploadFile` call: the promise-and-task object, the phases of the upload behind it,
//! and the order in which the page hears of the outcome.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use send_wrapper::SendWrapper;
use uptask::{ErrorKind, UploadError, UploadHandle, UploadSuccess};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, RequestInit, Response};

use crate::call::{Call, Callbacks, File, to_js_string};
use crate::listeners::{Listeners, call};
use crate::shapes;

#[wasm_bindgen(module = "/js/task.js")]
extern "C" {
    #[wasm_bindgen(js_name = taskPromise)]
    fn task_promise(promise: &Promise, control: JsValue, failure_handled: bool) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetch)]
    fn fetch_with_init(url: &str, init: &RequestInit) -> Result<Promise, JsValue>;
}

/// Where an upload is.
enum Phase {
    /// Reading the options, or fetching `filePath` (with the means to stop that).
    Preparing(Option<AbortController>),
    /// Aborted before the upload started: it never will.
    Aborted,
    Running(UploadHandle),
    Settled,
}

struct Inner {
    progress: Listeners,
    headers: Listeners,
    phase: RefCell<Phase>,
}

impl Inner {
    fn abort(&self) {
        let mut phase = self.phase.borrow_mut();
        match &*phase {
            Phase::Preparing(fetching) => {
                if let Some(controller) = fetching {
                    controller.abort();
                }
                *phase = Phase::Aborted;
            }
            Phase::Running(handle) => {
                handle.abort();
            }
            Phase::Aborted | Phase::Settled => {}
        }
    }

    fn is_aborted(&self) -> bool {
        matches!(*self.phase.borrow(), Phase::Aborted)
    }
}

/// The methods behind the task object (`js/task.js` puts them on the promise).
#[wasm_bindgen(skip_typescript)]
#[allow(unreachable_pub, reason = "wasm-bindgen exports need `pub`")]
pub struct Control {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

fn listener(value: JsValue, method: &str) -> Result<Function, JsValue> {
    value.dyn_into().map_err(|_| {
        js_sys::TypeError::new(&format!("{method}: the listener must be a function")).into()
    })
}

fn optional_listener(value: JsValue, method: &str) -> Result<Option<Function>, JsValue> {
    if value.is_undefined() || value.is_null() {
        Ok(None)
    } else {
        listener(value, method).map(Some)
    }
}

#[wasm_bindgen]
#[allow(
    unreachable_pub,
    missing_docs,
    reason = "documented on the JavaScript side"
)]
impl Control {
    pub fn abort(&self) {
        self.inner.abort();
    }

    #[wasm_bindgen(js_name = onProgressUpdate)]
    pub fn on_progress_update(&self, f: JsValue) -> Result<(), JsValue> {
        self.inner.progress.add(listener(f, "onProgressUpdate")?);
        Ok(())
    }

    #[wasm_bindgen(js_name = offProgressUpdate)]
    pub fn off_progress_update(&self, f: JsValue) -> Result<(), JsValue> {
        let f = optional_listener(f, "offProgressUpdate")?;
        self.inner.progress.remove(f.as_ref());
        Ok(())
    }

    #[wasm_bindgen(js_name = onHeadersReceived)]
    pub fn on_headers_received(&self, f: JsValue) -> Result<(), JsValue> {
        self.inner.headers.add(listener(f, "onHeadersReceived")?);
        Ok(())
    }

    #[wasm_bindgen(js_name = offHeadersReceived)]
    pub fn off_headers_received(&self, f: JsValue) -> Result<(), JsValue> {
        let f = optional_listener(f, "offHeadersReceived")?;
        self.inner.headers.remove(f.as_ref());
        Ok(())
    }
}

/// Starts the call and returns the promise-and-task object.
pub(crate) fn start(option: JsValue) -> JsValue {
    let inner = Rc::new(Inner {
        progress: Listeners::default(),
        headers: Listeners::default(),
        phase: RefCell::new(Phase::Preparing(None)),
    });
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let callbacks = Callbacks::of(&option);
    let handled = callbacks.fail.is_some() || callbacks.complete.is_some();
    if let Some((resolve, reject)) = settle {
        // The upload starts after this call returns, so listeners added right away see every
        // event, and an abort() right away stops it before anything is sent.
        wasm_bindgen_futures::spawn_local(run(
            Rc::clone(&inner),
            option,
            callbacks,
            resolve,
            reject,
        ));
    }
    task_promise(&promise, Control { inner }.into(), handled)
}

/// Runs the upload, then tells the page: `success` (or `fail`), then `complete`, then the
/// promise, so callbacks run before any `.then`, as on every platform Taro supports.
async fn run(
    inner: Rc<Inner>,
    option: JsValue,
    callbacks: Callbacks,
    resolve: Function,
    reject: Function,
) {
    let outcome = attempt(&inner, &option).await;
    *inner.phase.borrow_mut() = Phase::Settled;
    let (value, first, settle) = match &outcome {
        Ok(success) => (shapes::success(success), &callbacks.success, &resolve),
        Err(error) => (shapes::failure(error), &callbacks.fail, &reject),
    };
    for f in [first, &callbacks.complete].into_iter().flatten() {
        call(f, &value);
    }
    call(settle, &value);
}

fn aborted() -> UploadError {
    UploadError::new(ErrorKind::Aborted, "aborted before the upload started")
}

async fn attempt(inner: &Inner, option: &JsValue) -> Result<UploadSuccess, UploadError> {
    let call = Call::parse(option)?;
    let first = blob_of(inner, &call.first.file).await?;
    let mut more = Vec::with_capacity(call.more.len());
    for part in &call.more {
        more.push(blob_of(inner, &part.file).await?);
    }
    if inner.is_aborted() {
        return Err(aborted());
    }
    let task = uptask::upload_file(call.options(first, more));
    // The library's listeners must be `Send`; the page's functions never leave its thread.
    let progress = SendWrapper::new(inner.progress.clone());
    task.on_progress_update(move |p| progress.emit(&shapes::progress(p)));
    let headers = SendWrapper::new(inner.headers.clone());
    task.on_headers_received(move |h| headers.emit(&shapes::headers_received(&h.header)));
    *inner.phase.borrow_mut() = Phase::Running(task.handle());
    task.await
}

/// A part's file as a `Blob`: the page's own, or fetched from its URL.
async fn blob_of(inner: &Inner, file: &File) -> Result<web_sys::Blob, UploadError> {
    match file {
        File::Blob(blob) => Ok(blob.clone()),
        File::Url(url) => fetch(inner, url).await,
    }
}

/// Reads `filePath` as Taro H5 does, by fetching it; `abort()` stops the fetch.
async fn fetch(inner: &Inner, url: &str) -> Result<web_sys::Blob, UploadError> {
    let unreadable = |e: &JsValue| {
        if inner.is_aborted() {
            return aborted();
        }
        let reason = e
            .dyn_ref::<js_sys::Error>()
            .map_or_else(|| to_js_string(e), |e| String::from(e.message()));
        UploadError::new(
            ErrorKind::Io,
            format!("filePath {url} cannot be read: {reason}"),
        )
    };
    let controller = AbortController::new().map_err(|e| unreadable(&e))?;
    let init = RequestInit::new();
    init.set_signal(Some(&controller.signal()));
    if inner.is_aborted() {
        return Err(aborted());
    }
    *inner.phase.borrow_mut() = Phase::Preparing(Some(controller));
    let response = fetch_with_init(url, &init).map_err(|e| unreadable(&e))?;
    let response: Response = JsFuture::from(response)
        .await
        .map_err(|e| unreadable(&e))?
        .unchecked_into();
    if !response.ok() {
        return Err(UploadError::new(
            ErrorKind::Io,
            format!(
                "filePath {url} cannot be read: GET answered {}",
                response.status()
            ),
        ));
    }
    let blob = response.blob().map_err(|e| unreadable(&e))?;
    Ok(JsFuture::from(blob)
        .await
        .map_err(|e| unreadable(&e))?
        .unchecked_into())
}
