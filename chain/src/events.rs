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

/// Follows the adjudicator's events block by block: each [`EventCursor::poll`] returns the
/// events of the blocks mined since the previous poll, at most `latest − confirmations`, so a
/// watcher on a chain with shallow reorgs can wait for a few confirmations.
#[derive(Clone, Debug)]
pub struct EventCursor {
    adjudicator: Address,
    channel_id: Option<B256>,
    next_block: u64,
    confirmations: u64,
}

impl EventCursor {
    /// Starts at `from_block` (e.g. the adjudicator's deployment block).
    pub fn new(adjudicator: Address, from_block: u64) -> Self {
        EventCursor {
            adjudicator,
            channel_id: None,
            next_block: from_block,
            confirmations: 0,
        }
    }

    /// Only the events of one channel.
    pub fn channel(mut self, channel_id: B256) -> Self {
        self.channel_id = Some(channel_id);
        self
    }

    pub fn confirmations(mut self, n: u64) -> Self {
        self.confirmations = n;
        self
    }

    /// The first block the next poll will read (persist it to resume after a restart).
    pub fn next_block(&self) -> u64 {
        self.next_block
    }

    pub async fn poll(&mut self, provider: &DynProvider) -> Result<Vec<EventAt>, ChainError> {
        let latest = provider.get_block_number().await?;
        let Some(to) = latest.checked_sub(self.confirmations) else {
            return Ok(vec![]);
        };
        if to < self.next_block {
            return Ok(vec![]);
        }
        let events = fetch_events(
            provider,
            self.adjudicator,
            self.next_block,
            Some(to),
            self.channel_id,
        )
        .await?;
        self.next_block = to + 1;
        Ok(events)
    }
}
