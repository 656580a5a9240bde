use alloy::primitives::TxHash;

use crate::bindings::Adjudicator::AdjudicatorErrors;

/// What can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The adjudicator refused the call; the variant names the contract's custom error.
    #[error("adjudicator reverted: {0:?}")]
    Revert(AdjudicatorErrors),
    /// A call reverted with data that is not one of the adjudicator's errors (e.g. a token's).
    #[error("call reverted: {0}")]
    Contract(alloy::contract::Error),
    /// The transaction was mined but reverted.
    #[error("transaction {0} reverted")]
    Reverted(TxHash),
    #[error("waiting for the transaction failed: {0}")]
    Pending(#[from] alloy::providers::PendingTransactionError),
    #[error("rpc: {0}")]
    Transport(#[from] alloy::transports::TransportError),
    #[error("anvil: {0}")]
    Anvil(String),
    #[error("event decoding: {0}")]
    Decode(#[from] alloy::sol_types::Error),
}

impl From<alloy::contract::Error> for ChainError {
    fn from(e: alloy::contract::Error) -> Self {
        match e.as_decoded_interface_error::<AdjudicatorErrors>() {
            Some(decoded) => ChainError::Revert(decoded),
            None => ChainError::Contract(e),
        }
    }
}

impl ChainError {
    /// The adjudicator's custom error, if that is why the call failed.
    pub fn revert(&self) -> Option<&AdjudicatorErrors> {
        match self {
            ChainError::Revert(e) => Some(e),
            _ => None,
        }
    }
}
