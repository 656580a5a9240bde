//! The JavaScript surface under Node (`cargo test --target wasm32-unknown-unknown --test
//! wasm_node`). The shared assertions live in `wasm_common`.
#![cfg(target_arch = "wasm32")]

mod wasm_common;
