//! The page's listeners of one event.
//!
//! The rules, where Taro H5 and WeChat differ or say nothing: adding a function that is
//! already there does nothing (as `addEventListener`); `off(fn)` removes it, `off()` removes
//! all; a listener removed while an event is being delivered is not called for it, and
//! removing one never makes another be skipped; a listener that throws is reported to the
//! page (`reportError`) and the others still run.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object};
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    /// Reports an exception as if uncaught (the console, `window.onerror`) without throwing.
    #[wasm_bindgen(js_name = reportError)]
    fn report_error(error: &JsValue);
}

/// Calls a page's function, reporting what it throws instead of letting it stop uptask.
pub(crate) fn call(f: &Function, arg: &JsValue) {
    if let Err(thrown) = f.call1(&JsValue::UNDEFINED, arg) {
        report_error(&thrown);
    }
}

/// One event's listeners; clones share the list.
#[derive(Clone, Default)]
pub(crate) struct Listeners(Rc<RefCell<Vec<Function>>>);

impl Listeners {
    fn position(&self, f: &Function) -> Option<usize> {
        self.0.borrow().iter().position(|g| Object::is(g, f))
    }

    pub(crate) fn add(&self, f: Function) {
        if self.position(&f).is_none() {
            self.0.borrow_mut().push(f);
        }
    }

    /// Removes `f`, or every listener when `f` is `None`.
    pub(crate) fn remove(&self, f: Option<&Function>) {
        match f {
            Some(f) => {
                if let Some(i) = self.position(f) {
                    self.0.borrow_mut().remove(i);
                }
            }
            None => self.0.borrow_mut().clear(),
        }
    }

    /// Delivers `event` to the listeners there now, skipping any removed on the way.
    pub(crate) fn emit(&self, event: &JsValue) {
        // No borrow is held while page code runs: listeners may add and remove.
        let snapshot = self.0.borrow().clone();
        for f in &snapshot {
            if self.position(f).is_some() {
                call(f, event);
            }
        }
    }
}
