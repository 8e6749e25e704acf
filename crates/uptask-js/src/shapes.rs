//! The JavaScript values listeners and callbacks receive, with WeChat's field names.

use js_sys::{Object, Reflect};
use uptask::{Header, ProgressUpdate, UploadError, UploadSuccess};
use wasm_bindgen::{JsCast, JsValue};

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

/// `{progress, totalBytesSent, totalBytesExpectedToSend}`, plus `speed` (bytes per second)
/// and `eta` (seconds left) once measured; byte counts are below 2^53, exact as numbers.
pub(crate) fn progress(p: &ProgressUpdate) -> JsValue {
    let o = Object::new();
    set(&o, "progress", p.progress);
    set(&o, "totalBytesSent", p.total_bytes_sent as f64);
    set(
        &o,
        "totalBytesExpectedToSend",
        p.total_bytes_expected_to_send as f64,
    );
    if let Some(speed) = p.speed {
        set(&o, "speed", speed as f64);
    }
    if let Some(eta) = p.eta {
        set(&o, "eta", eta as f64);
    }
    o.into()
}

fn header(h: &Header) -> Object {
    let o = Object::new();
    for (name, value) in h {
        set(&o, name, value.as_str());
    }
    o
}

/// `{header}`: an object of lower-cased names, not the raw header text Taro H5 passes.
pub(crate) fn headers_received(h: &Header) -> JsValue {
    let o = Object::new();
    set(&o, "header", header(h));
    o.into()
}

/// `{errMsg: "uploadFile:ok", statusCode, header, data}`, plus `uploadUrl` for tus and
/// `profile` (the request's timings) for multipart.
pub(crate) fn success(s: &UploadSuccess) -> JsValue {
    let o = Object::new();
    set(&o, "errMsg", s.err_msg());
    set(&o, "statusCode", s.status_code);
    set(&o, "header", header(&s.header));
    set(&o, "data", s.data.as_str());
    if let Some(url) = &s.upload_url {
        set(&o, "uploadUrl", url.as_str());
    }
    // The profile's JSON is WeChat's shape already; it always serializes and parses.
    if let Some(profile) = serde_json::to_string(&s.profile)
        .ok()
        .and_then(|json| js_sys::JSON::parse(&json).ok())
        .filter(|p| !p.is_null())
    {
        set(&o, "profile", profile);
    }
    o.into()
}

/// An `Error` whose message is the `errMsg`, with `errMsg` as a property too: code written
/// for Taro's plain `{errMsg}` objects keeps working, and `instanceof Error` and stack traces
/// work as well.
pub(crate) fn failure(e: &UploadError) -> JsValue {
    let msg = e.err_msg();
    let error = js_sys::Error::new(&msg);
    set(error.unchecked_ref(), "errMsg", msg.as_str());
    error.into()
}
