//! Time in a page or a worker: `performance.now()` and `setTimeout`, found on the global
//! object so both kinds of scope work.

use std::time::Duration;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn global_fn(target: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(target, &JsValue::from_str(name))
        .ok()?
        .dyn_into()
        .ok()
}

/// Time on the page's monotonic clock (`performance.now()`), or the wall clock without one.
pub(crate) fn now() -> Duration {
    let global = js_sys::global();
    let ms = Reflect::get(&global, &JsValue::from_str("performance"))
        .ok()
        .filter(|p| !p.is_undefined())
        .and_then(|p| global_fn(&p, "now").and_then(|f| f.call0(&p).ok()))
        .and_then(|v| v.as_f64())
        .unwrap_or_else(js_sys::Date::now);
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// The wall clock, `Date.now()`: `std::time::SystemTime` has no clock in the browser.
pub(crate) fn unix_time() -> Duration {
    Duration::from_secs_f64(js_sys::Date::now().max(0.0) / 1000.0)
}

/// Waits for `delay` with `setTimeout`.
pub(crate) async fn sleep(delay: Duration) {
    let global = js_sys::global();
    let Some(set_timeout) = global_fn(&global, "setTimeout") else {
        tracing::warn!("no setTimeout in this scope: not waiting");
        return;
    };
    let ms = JsValue::from_f64(delay.as_secs_f64() * 1000.0);
    let promise = Promise::new(&mut |resolve, _reject| {
        let _ = set_timeout.call2(&global, &resolve, &ms);
    });
    let _ = JsFuture::from(promise).await;
}
