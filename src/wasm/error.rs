//! Errors as JavaScript sees them: real `Error` objects with a stable `code` property.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// `code` of a secret key that is not 32 bytes or not a valid secp256k1 scalar.
pub const INVALID_KEY: &str = "INVALID_KEY";

/// An error on its way to JavaScript. Converts into an `Error` whose `name` is `L2payError`,
/// whose `message` is human-readable and whose `code` is stable across releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmError {
    code: &'static str,
    message: String,
}

impl WasmError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        WasmError {
            code,
            message: message.into(),
        }
    }

    /// An input that could not be decoded (wrong shape, bad hex, a number where a decimal
    /// string was expected): the core's `Decode` error, code `MALFORMED`.
    pub fn malformed(what: &str, detail: impl std::fmt::Display) -> Self {
        crate::Error::Decode(format!("{what}: {detail}")).into()
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<crate::Error> for WasmError {
    fn from(e: crate::Error) -> Self {
        WasmError::new(e.code(), e.to_string())
    }
}

impl From<crate::error::SignatureError> for WasmError {
    fn from(e: crate::error::SignatureError) -> Self {
        crate::Error::from(e).into()
    }
}

impl From<crate::error::UpdateError> for WasmError {
    fn from(e: crate::error::UpdateError) -> Self {
        crate::Error::from(e).into()
    }
}

impl From<WasmError> for JsValue {
    fn from(e: WasmError) -> Self {
        let err = js_sys::Error::new(&e.message);
        err.set_name("L2payError");
        // Setting a property on a fresh, unfrozen Error object cannot fail.
        let _ = Reflect::set(&err, &"code".into(), &e.code.into());
        err.into()
    }
}
