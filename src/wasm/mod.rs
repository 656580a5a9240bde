//! The JavaScript face of the core, built only for `wasm32`: a thin wasm-bindgen layer that
//! decodes plain JS objects into core types, calls the core, and turns core errors into JS
//! `Error`s with a stable `code`. No protocol logic lives here.

mod error;
mod keys;
mod state;

pub use error::{WasmError, INVALID_KEY};
pub use keys::Key;
pub use state::{sign_state, verify_state};
