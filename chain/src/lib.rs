//! l2pay on a real EVM: bindings of the adjudicator contract (`contracts/Adjudicator.sol`),
//! deployment, a typed client speaking the core's types, event decoding for watchers, and an
//! anvil devnet helper for tests and demos.
//!
//! ```no_run
//! # async fn demo() -> Result<(), l2pay_chain::ChainError> {
//! use l2pay_chain::{deploy_adjudicator, AdjudicatorClient, Devnet};
//! let net = Devnet::spawn().await?;
//! let adjudicator = deploy_adjudicator(&net.wallet(0)).await?;
//! let alice = AdjudicatorClient::new(adjudicator, net.wallet(1));
//! # let _ = alice; Ok(()) }
//! ```

pub mod bindings;
pub mod client;
pub mod convert;
pub mod devnet;
pub mod error;
pub mod events;

use alloy::primitives::Address;
use alloy::providers::DynProvider;

pub use bindings::Adjudicator::{AdjudicatorErrors, AdjudicatorEvents};
pub use client::{send, AdjudicatorClient, ChannelInfo, Status};
pub use devnet::{anvil_path, Devnet};
pub use error::ChainError;
pub use events::{
    decode_log, fetch_events, receipt_events, AdjudicatorEvent, EventAt, EventCursor,
};

/// Deploys the adjudicator from the provider's wallet.
pub async fn deploy_adjudicator(provider: &DynProvider) -> Result<Address, ChainError> {
    let c = bindings::Adjudicator::deploy(provider.clone()).await?;
    Ok(*c.address())
}

/// Deploys the 6-decimal test ERC-20 ("Test USD", anyone may mint).
pub async fn deploy_test_token(provider: &DynProvider) -> Result<Address, ChainError> {
    let c = bindings::TestToken::deploy(provider.clone()).await?;
    Ok(*c.address())
}

/// Deploys the hostile token that re-enters the adjudicator from `transfer`.
pub async fn deploy_reentrant_token(provider: &DynProvider) -> Result<Address, ChainError> {
    let c = bindings::ReentrantToken::deploy(provider.clone()).await?;
    Ok(*c.address())
}
