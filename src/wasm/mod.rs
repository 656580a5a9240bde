//! The JavaScript face of the core, built only for `wasm32`: a thin wasm-bindgen layer that
//! decodes plain JS objects into core types, calls the core, and turns core errors into JS
//! `Error`s with a stable `code`. No protocol logic lives here.

mod error;
mod invoice;
mod keys;
mod plan;
mod state;
mod wallet;

pub use error::{WasmError, INVALID_KEY};
pub use invoice::{parse_invoice, INVALID_INVOICE};
pub use keys::Key;
pub use plan::{
    plan_build_time, plan_fee_by_method, plan_fees_by_hops, plan_fees_by_links,
    plan_funds_by_hop_time, plan_funds_capacity, plan_nodes, plan_paper_checks,
    plan_payment_methods, plan_scenarios, plan_single_merchant, plan_single_merchant_fees,
    plan_single_platform, plan_single_platform_fees,
};
pub use state::{sign_state, verify_state};
pub use wallet::{
    core_version, decode_log, decode_uint, event_topic, recover_message, tx_approve, tx_balance_of,
    WalletCore,
};
