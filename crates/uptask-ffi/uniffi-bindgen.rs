//! `uniffi-bindgen`: writes the Python, Kotlin or Swift bindings of the built library, e.g.
//! `cargo run -p uptask-ffi --bin uniffi-bindgen -- generate --library target/debug/libuptask_ffi.so --language kotlin --out-dir out`.

fn main() {
    uniffi::uniffi_bindgen_main();
}
