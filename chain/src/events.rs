//! Decoding the adjudicator's events, from receipts or from `eth_getLogs`, for watchers.

use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log, TransactionReceipt};
use alloy::sol_types::SolEventInterface;

use crate::bindings::Adjudicator::AdjudicatorEvents;
use crate::error::ChainError;

/// One of the adjudicator's events (`Opened`, `Deposited`, `Withdrawn`, `Closed`,
/// `CloseRegistered`, `Challenged`, `Settled`, `HtlcRegistered`, `PreimageRevealed`,
/// `HtlcClaimed`, `PaymentDeferred`, `OwedClaimed`).
pub type AdjudicatorEvent = AdjudicatorEvents;

/// A decoded event with where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventAt {
    pub event: AdjudicatorEvent,
    pub block_number: Option<u64>,
    pub block_timestamp: Option<u64>,
    pub tx_hash: Option<B256>,
    pub log_index: Option<u64>,
}

/// Decodes one log of the adjudicator; `None` for a log of another contract or event.
pub fn decode_log(adjudicator: Address, log: &Log) -> Option<EventAt> {
    if log.address() != adjudicator {
        return None;
    }
    let decoded = AdjudicatorEvents::decode_log(&log.inner).ok()?;
    Some(EventAt {
        event: decoded.data,
        block_number: log.block_number,
        block_timestamp: log.block_timestamp,
        tx_hash: log.transaction_hash,
        log_index: log.log_index,
    })
}

/// The adjudicator's events in a receipt, in log order.
pub fn receipt_events(adjudicator: Address, receipt: &TransactionReceipt) -> Vec<AdjudicatorEvent> {
    receipt
        .inner
        .logs()
        .iter()
        .filter_map(|l| decode_log(adjudicator, l).map(|e| e.event))
        .collect()
}

/// The adjudicator's events in blocks `from..=to` (`to = None`: up to the latest block),
/// optionally only those of one channel (its id is the first indexed topic of every
/// channel event).
pub async fn fetch_events(
    provider: &DynProvider,
    adjudicator: Address,
    from: u64,
    to: Option<u64>,
    channel_id: Option<B256>,
) -> Result<Vec<EventAt>, ChainError> {
    let mut filter = Filter::new().address(adjudicator).from_block(from);
    if let Some(to) = to {
        filter = filter.to_block(to);
    }
    if let Some(id) = channel_id {
        filter = filter.topic1(id);
    }
    let logs = provider.get_logs(&filter).await?;
    Ok(logs
        .iter()
        .filter_map(|l| decode_log(adjudicator, l))
        .collect())
}
