//! l2pay: state-channel payments for web storefronts.
//!
//! The crate is a **sans-IO core**: nothing in it opens a socket, touches storage, reads a clock
//! or spawns a task. Drivers (the browser SDK, the merchant hub) own all I/O and feed the core
//! with inputs that carry `now`; the core answers with outputs to persist, messages to send,
//! events and its next deadline. See `ARCHITECTURE.md`.

pub mod abi;
pub mod channel;
pub mod client;
pub mod eip712;
pub mod error;
pub mod invoice;
pub mod ledger;
pub mod op;
pub mod plan;
pub mod router;
pub mod serde_util;
pub mod session;
pub mod signer;
pub mod state;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
pub mod wire;

pub use alloy_primitives::{Address, B256};
pub use channel::{Channel, ChannelSnapshot, Event, Output};
pub use error::Error;
pub use op::{Op, Policy};
pub use signer::{LocalSigner, Signature, Signer};
pub use state::{ChannelParams, ChannelState, Htlc, Side};

/// Money in the chain's smallest unit (wei, or an ERC-20's base unit). Never a float.
pub type Amount = u128;
