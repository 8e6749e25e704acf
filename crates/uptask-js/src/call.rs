//! Reading the options object a page passes to `uploadFile`.

use std::time::Duration;

use js_sys::{Function, Object, Reflect};
use uptask::{ErrorKind, FormFile, S3Options, Source, TusOptions, UploadError, UploadOptions};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

#[wasm_bindgen]
extern "C" {
    /// JavaScript's `String(value)`: what `setRequestHeader` and `FormData.append` do to a
    /// value that is not a string, so pages see the same text as with Taro.
    #[wasm_bindgen(js_name = String)]
    pub(crate) fn to_js_string(value: &JsValue) -> String;
}

/// Where the file comes from.
pub(crate) enum File {
    /// A `Blob` or `File` of the page.
    Blob(web_sys::Blob),
    /// A URL to fetch it from first (Taro's `filePath`, normally a `blob:` URL).
    Url(String),
}

/// The `protocol` option: this package's one addition to Taro's options.
enum Protocol {
    Multipart,
    Tus,
    /// Straight to an S3 store through the signer at this URL (Companion's S3 routes).
    S3(S3Options),
}

/// One file of the request: its form field, where it comes from, and the name the server sees.
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) file: File,
    file_name: Option<String>,
}

/// A checked call: everything but the callbacks.
pub(crate) struct Call {
    /// The first file: the top-level `file`/`filePath`, else uni-app's first of `files`.
    pub(crate) first: Part,
    /// The rest of `files`, in order.
    pub(crate) more: Vec<Part>,
    url: String,
    header: Vec<(String, String)>,
    form_data: Vec<(String, String)>,
    timeout: Duration,
    with_credentials: bool,
    protocol: Protocol,
}

/// The `success`, `fail` and `complete` callbacks; anything else in their place is ignored,
/// as in WeChat.
#[derive(Default)]
pub(crate) struct Callbacks {
    pub(crate) success: Option<Function>,
    pub(crate) fail: Option<Function>,
    pub(crate) complete: Option<Function>,
}

fn invalid(message: impl Into<String>) -> UploadError {
    UploadError::new(ErrorKind::InvalidInput, message)
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn is_given(value: &JsValue) -> bool {
    !value.is_undefined() && !value.is_null()
}

fn string(object: &JsValue, key: &str, required: bool) -> Result<Option<String>, UploadError> {
    let value = get(object, key);
    match value.as_string() {
        Some(s) => Ok(Some(s)),
        None if !is_given(&value) && !required => Ok(None),
        None if !is_given(&value) => Err(invalid(format!("parameter error: {key} is required"))),
        None => Err(invalid(format!("parameter error: {key} must be a string"))),
    }
}

/// An object's own enumerable string-keyed entries, values as `String(value)` gives them.
fn entries(object: &JsValue, key: &str) -> Result<Vec<(String, String)>, UploadError> {
    let value = get(object, key);
    if !is_given(&value) {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(invalid(format!("parameter error: {key} must be an object")));
    }
    Ok(Object::entries(value.unchecked_ref())
        .iter()
        .filter_map(|pair| {
            let pair: js_sys::Array = pair.unchecked_into();
            Some((pair.get(0).as_string()?, to_js_string(&pair.get(1))))
        })
        .collect())
}

impl Callbacks {
    pub(crate) fn of(option: &JsValue) -> Self {
        let function = |key| get(option, key).dyn_into::<Function>().ok();
        Self {
            success: function("success"),
            fail: function("fail"),
            complete: function("complete"),
        }
    }
}

impl Call {
    /// Checks the options; the error is what `fail` receives.
    pub(crate) fn parse(option: &JsValue) -> Result<Self, UploadError> {
        if !option.is_object() {
            return Err(invalid(
                "parameter error: uploadFile takes an options object",
            ));
        }
        let protocol = protocol_of(option)?;
        // Through a signer the signer is where the upload goes; Taro's `url` may repeat it.
        let url = string(option, "url", !matches!(protocol, Protocol::S3(_)))?.unwrap_or_default();
        let mut parts = Vec::new();
        if let Some(file) = file_of(option, "file", "filePath")? {
            parts.push(Part {
                name: string(option, "name", true)?.unwrap_or_default(),
                file,
                file_name: string(option, "fileName", false)?,
            });
        }
        let files = get(option, "files");
        if is_given(&files) {
            let files: js_sys::Array = files.dyn_into().map_err(|_| {
                invalid("parameter error: files must be an array of {name, file | uri}")
            })?;
            for entry in files.iter() {
                let file = file_of(&entry, "file", "uri")?.ok_or_else(|| {
                    invalid("parameter error: each of files needs file (a Blob or File) or uri")
                })?;
                parts.push(Part {
                    name: string(&entry, "name", true)?.unwrap_or_default(),
                    file,
                    file_name: None,
                });
            }
        }
        let mut parts = parts.into_iter();
        let first = parts.next().ok_or_else(|| {
            invalid(
                "parameter error: filePath (a URL such as blob:...), file (a Blob or File) or files is required",
            )
        })?;
        // Taro sends its own value too; ours carries the boundary the body needs (a bare
        // `multipart/form-data` from the page breaks every upload on Taro H5).
        let header = entries(option, "header")?
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-type"))
            .collect();
        let timeout = get(option, "timeout")
            .as_f64()
            .filter(|ms| ms.is_finite() && *ms > 0.0)
            // Taro's `timeout || 60000`: nothing, 0 and nonsense mean the default.
            .map_or(uptask::DEFAULT_TIMEOUT, |ms| {
                Duration::from_secs_f64(ms / 1000.0)
            });
        let with_credentials = get(option, "withCredentials");
        Ok(Self {
            first,
            more: parts.collect(),
            url,
            header,
            form_data: entries(option, "formData")?,
            timeout,
            // Taro's default: a cross-origin server must then allow credentials.
            with_credentials: with_credentials.is_undefined() || with_credentials.is_truthy(),
            protocol,
        })
    }

    /// The library's options for this call: `first` is the first part's file, `more` the
    /// others', in order.
    pub(crate) fn options(self, first: web_sys::Blob, more: Vec<web_sys::Blob>) -> UploadOptions {
        let mut options =
            UploadOptions::with_source(self.url, Source::Blob(first.into()), self.first.name)
                .timeout(self.timeout)
                .with_credentials(self.with_credentials);
        if let Some(file_name) = self.first.file_name {
            options = options.file_name(file_name);
        }
        for (part, blob) in self.more.into_iter().zip(more) {
            options = options.add_file(FormFile::with_source(part.name, Source::Blob(blob.into())));
        }
        for (name, value) in self.header {
            options = options.header(name, value);
        }
        for (key, value) in self.form_data {
            options = options.form_data(key, value);
        }
        match self.protocol {
            Protocol::Multipart => options,
            Protocol::Tus => options.tus(TusOptions::new()),
            Protocol::S3(s3) => options.s3(s3),
        }
    }
}

/// The `protocol` option, with `signer`, `partSize` and `concurrency` for `"s3"`.
fn protocol_of(option: &JsValue) -> Result<Protocol, UploadError> {
    let protocol = match string(option, "protocol", false)?.as_deref() {
        None | Some("multipart") => Protocol::Multipart,
        Some("tus") => Protocol::Tus,
        Some("s3") => {
            let signer = string(option, "signer", false)?.ok_or_else(|| {
                invalid(
                    "parameter error: protocol \"s3\" needs signer, the URL of the S3 routes that presign each part (e.g. https://host/s3); a page never holds the store's keys",
                )
            })?;
            let mut s3 = S3Options::signer(signer);
            if let Some(bytes) = count(option, "partSize")? {
                s3 = s3.part_size(bytes);
            }
            if let Some(parts) = count(option, "concurrency")? {
                s3 = s3.concurrency(usize::try_from(parts).unwrap_or(usize::MAX));
            }
            return Ok(Protocol::S3(s3));
        }
        Some(other) => {
            return Err(invalid(format!(
                "parameter error: protocol {other:?} is not \"multipart\", \"tus\" or \"s3\""
            )));
        }
    };
    for key in ["signer", "partSize", "concurrency"] {
        if is_given(&get(option, key)) {
            return Err(invalid(format!(
                "parameter error: {key} is for protocol \"s3\""
            )));
        }
    }
    Ok(protocol)
}

/// A positive whole number under `key`, if given.
fn count(object: &JsValue, key: &str) -> Result<Option<u64>, UploadError> {
    let value = get(object, key);
    if !is_given(&value) {
        return Ok(None);
    }
    match value.as_f64() {
        // Below 2^53 every whole number is exact, so the cast loses nothing.
        Some(n) if n.fract() == 0.0 && (1.0..9_007_199_254_740_992.0).contains(&n) => {
            Ok(Some(n as u64))
        }
        _ => Err(invalid(format!(
            "parameter error: {key} must be a positive whole number"
        ))),
    }
}

/// The file an object names: a `Blob` under `blob_key`, or a URL to fetch under `url_key`.
fn file_of(object: &JsValue, blob_key: &str, url_key: &str) -> Result<Option<File>, UploadError> {
    let blob = get(object, blob_key);
    if is_given(&blob) {
        return blob.dyn_into().map(|b| Some(File::Blob(b))).map_err(|_| {
            invalid(format!(
                "parameter error: {blob_key} must be a Blob or File"
            ))
        });
    }
    Ok(string(object, url_key, false)?.map(File::Url))
}
