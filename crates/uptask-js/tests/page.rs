//! The package's JavaScript API driven from a page: the scenarios in `page.js` are plain
//! JavaScript calling `uploadFile` as an application would, run in headless Chromium
//! (`wasm-bindgen-test-runner` with chromedriver) against `uptask serve` on another origin.
//! `scripts/test-browser.sh` starts the server and passes its URL as `UPTASK_BROWSER_SERVER`.

#![cfg(target_arch = "wasm32")]
#![allow(clippy::panic, reason = "test code")]

use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/page.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = taroFlow)]
    async fn taro_flow(upload_file: &JsValue, server: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = offSemantics)]
    async fn off_semantics(upload_file: &JsValue, server: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = abortBeforeSend)]
    async fn abort_before_send(upload_file: &JsValue, server: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = filePathAndFileName)]
    async fn file_path_and_file_name(
        upload_file: &JsValue,
        server: &str,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = early413)]
    async fn early_413(upload_file: &JsValue, server: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = parameterErrors)]
    async fn parameter_errors(upload_file: &JsValue, server: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = severalFiles)]
    async fn several_files(upload_file: &JsValue, server: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = tusProtocol)]
    async fn tus_protocol(upload_file: &JsValue, server: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = s3ThroughCompanion)]
    async fn s3_through_companion(upload_file: &JsValue, signer: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = s3Signer)]
    async fn s3_signer(
        upload_file: &JsValue,
        signer: &str,
        token: &str,
    ) -> Result<JsValue, JsValue>;
}

fn server() -> &'static str {
    option_env!("UPTASK_BROWSER_SERVER")
        .unwrap_or_else(|| panic!("UPTASK_BROWSER_SERVER is not set: run scripts/test-browser.sh"))
}

/// The package's `uploadFile` as the page's JavaScript sees it.
fn upload_file() -> JsValue {
    Closure::<dyn Fn(JsValue) -> JsValue>::new(uptask_js::upload_file).into_js_value()
}

/// Fails the test with the scenario's own message.
fn passed(scenario: &str, outcome: Result<JsValue, JsValue>) {
    match outcome {
        Ok(summary) => wasm_bindgen_test::console_log!("{scenario}: {summary:?}"),
        Err(e) => panic!("{scenario}: {}", describe(&e)),
    }
}

fn describe(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

#[wasm_bindgen_test]
async fn callbacks_listeners_and_the_promise_come_in_taros_order() {
    passed("taroFlow", taro_flow(&upload_file(), server()).await);
}

#[wasm_bindgen_test]
async fn off_removes_by_identity_or_all_and_never_skips() {
    passed(
        "offSemantics",
        off_semantics(&upload_file(), server()).await,
    );
}

#[wasm_bindgen_test]
async fn abort_while_the_file_is_read_stops_the_upload() {
    passed(
        "abortBeforeSend",
        abort_before_send(&upload_file(), server()).await,
    );
}

#[wasm_bindgen_test]
async fn a_blob_url_file_path_is_fetched_and_named() {
    passed(
        "filePathAndFileName",
        file_path_and_file_name(&upload_file(), server()).await,
    );
}

#[wasm_bindgen_test]
async fn an_early_413_is_the_result() {
    passed("early413", early_413(&upload_file(), server()).await);
}

#[wasm_bindgen_test]
async fn bad_options_fail_through_fail_and_the_promise() {
    passed(
        "parameterErrors",
        parameter_errors(&upload_file(), server()).await,
    );
}

#[wasm_bindgen_test]
async fn several_files_go_in_one_request() {
    passed(
        "severalFiles",
        several_files(&upload_file(), server()).await,
    );
}

#[wasm_bindgen_test]
async fn protocol_tus_uploads_resumably() {
    passed("tusProtocol", tus_protocol(&upload_file(), server()).await);
}

#[wasm_bindgen_test]
async fn protocol_s3_goes_straight_to_the_bucket_through_the_signer() {
    let need = || panic!("UPTASK_BROWSER_SIGNER is not set: run scripts/test-browser.sh");
    let signer = option_env!("UPTASK_BROWSER_SIGNER").unwrap_or_else(need);
    let token = option_env!("UPTASK_BROWSER_SIGNER_TOKEN").unwrap_or_else(need);
    passed("s3Signer", s3_signer(&upload_file(), signer, token).await);
}

#[wasm_bindgen_test]
async fn protocol_s3_goes_through_uppy_companion() {
    let need = || panic!("UPTASK_BROWSER_COMPANION is not set: run scripts/test-browser.sh");
    let companion = option_env!("UPTASK_BROWSER_COMPANION").unwrap_or_else(need);
    passed(
        "s3ThroughCompanion",
        s3_through_companion(&upload_file(), companion).await,
    );
}
