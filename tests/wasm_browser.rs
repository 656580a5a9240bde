//! The JavaScript surface in headless Chromium (`cargo test --target wasm32-unknown-unknown
//! --test wasm_browser`; needs chromium and chromedriver). The shared assertions live in
//! `wasm_common`; this file adds what only a browser can show.
#![cfg(target_arch = "wasm32")]

use l2pay::wasm::Key;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

mod wasm_common;

#[wasm_bindgen_test]
fn runs_in_a_browser_window_with_web_crypto() {
    let window = js_sys::Reflect::get(&js_sys::global(), &"window".into()).unwrap();
    assert!(
        !window.is_undefined(),
        "no `window`: not running in a browser"
    );
    Key::generate().expect("crypto.getRandomValues is available in a window");
}
