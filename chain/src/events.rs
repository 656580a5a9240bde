//! Decoding the adjudicator's events, from receipts or from `eth_getLogs`, for watchers.

use std::collections::VecDeque;

use alloy::eips::BlockNumberOrTag;
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
    pub block_hash: Option<B256>,
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
        block_hash: log.block_hash,
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

/// Block hashes an [`EventCursor`] remembers by default: the ends of its last 64 polls.
pub const CHECKPOINTS: usize = 64;

/// Blocks one poll reads at most (RPC providers cap `eth_getLogs` ranges); a cursor further
/// behind says so ([`Polled::caught_up`]) and reads the rest on the next polls.
pub const MAX_RANGE: u64 = 2_000;

/// Follows the adjudicator's events block by block: each [`EventCursor::poll`] returns the
/// events of the blocks mined since the previous poll that are `confirmations` deep (at most
/// `latest − confirmations`), so shallow reorgs never reach the caller.
///
/// Reorgs: the cursor remembers the hash of the last block of each poll (a bounded window of
/// checkpoints). A poll first checks that the newest checkpoint is still on the chain; if it
/// is not (a reorg deeper than the confirmation depth), it walks back to the newest checkpoint
/// still there, rewinds to the block after it and reads again from there: the caller sees the
/// events of the new branch, and those it saw already again (handle them idempotently). A
/// reorg below the oldest checkpoint rewinds to the cursor's first block. A poll whose range
/// changed while it read (the range's last block or the newest checkpoint replaced meanwhile)
/// reports nothing and reads the range again next time.
#[derive(Clone, Debug)]
pub struct EventCursor {
    adjudicator: Address,
    channel_id: Option<B256>,
    first_block: u64,
    next_block: u64,
    confirmations: u64,
    checkpoints: VecDeque<(u64, B256)>,
}

/// What one [`EventCursor::poll_batch`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Polled {
    /// Events of confirmed blocks, in chain order.
    pub events: Vec<EventAt>,
    /// A reorg replaced blocks the cursor had read.
    pub reorg: Option<Reorg>,
    /// The cursor reached `latest − confirmations` (otherwise poll again at once).
    pub caught_up: bool,
}

/// A reorg of blocks the cursor had already read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reorg {
    /// The newest block the cursor had read before.
    pub was_at: u64,
    /// Where it reads again from (the fork point's successor, as far as the checkpoints tell).
    pub rescan_from: u64,
}

impl EventCursor {
    /// Starts at `from_block` (e.g. the adjudicator's deployment block).
    pub fn new(adjudicator: Address, from_block: u64) -> Self {
        EventCursor {
            adjudicator,
            channel_id: None,
            first_block: from_block,
            next_block: from_block,
            confirmations: 0,
            checkpoints: VecDeque::new(),
        }
    }

    /// Only the events of one channel.
    pub fn channel(mut self, channel_id: B256) -> Self {
        self.channel_id = Some(channel_id);
        self
    }

    /// Reports a block's events once `n` blocks were mined on top of it (0: at the head).
    pub fn confirmations(mut self, n: u64) -> Self {
        self.confirmations = n;
        self
    }

    /// Resumes after a restart at `next_block` with the checkpoints persisted before
    /// ([`Self::checkpoints`]), so a reorg that happened meanwhile is still noticed.
    pub fn resume(mut self, next_block: u64, checkpoints: Vec<(u64, B256)>) -> Self {
        self.next_block = next_block.max(self.first_block);
        self.checkpoints = checkpoints
            .into_iter()
            .filter(|(n, _)| *n < self.next_block)
            .collect();
        self.checkpoints.make_contiguous().sort_by_key(|(n, _)| *n);
        while self.checkpoints.len() > CHECKPOINTS {
            self.checkpoints.pop_front();
        }
        self
    }

    /// The first block the next poll will read (persist it to resume after a restart).
    pub fn next_block(&self) -> u64 {
        self.next_block
    }

    /// The remembered `(block number, hash)` pairs, oldest first (persist them with
    /// [`Self::next_block`]).
    pub fn checkpoints(&self) -> Vec<(u64, B256)> {
        self.checkpoints.iter().copied().collect()
    }

    /// The events of the newly confirmed blocks (see [`Self::poll_batch`]).
    pub async fn poll(&mut self, provider: &DynProvider) -> Result<Vec<EventAt>, ChainError> {
        Ok(self.poll_batch(provider).await?.events)
    }

    /// Checks for a reorg, then reads the events of the blocks confirmed since the last poll
    /// (at most [`MAX_RANGE`] blocks).
    pub async fn poll_batch(&mut self, provider: &DynProvider) -> Result<Polled, ChainError> {
        let latest = provider.get_block_number().await?;
        let mut polled = Polled::default();
        if !self.tip_holds(provider, latest).await? {
            polled.reorg = Some(self.rewind(provider, latest).await?);
        }
        let Some(target) = latest.checked_sub(self.confirmations) else {
            polled.caught_up = true;
            return Ok(polled);
        };
        if target < self.next_block {
            polled.caught_up = true;
            return Ok(polled);
        }
        let to = target.min(self.next_block.saturating_add(MAX_RANGE - 1));
        // A node behind its own head, or a range that moves while it is read: read it again
        // next poll.
        polled.caught_up = true;
        let Some(to_hash) = block_hash(provider, to).await? else {
            return Ok(polled);
        };
        let events = fetch_events(
            provider,
            self.adjudicator,
            self.next_block,
            Some(to),
            self.channel_id,
        )
        .await?;
        // The range must not have moved while it was read: the same last block, still on top
        // of the newest checkpoint, and every log from that branch.
        let same_end = block_hash(provider, to).await? == Some(to_hash);
        let consistent = events
            .iter()
            .all(|e| e.block_number != Some(to) || e.block_hash.is_none_or(|h| h == to_hash));
        if !same_end || !consistent || !self.tip_holds(provider, latest).await? {
            return Ok(polled);
        }
        self.next_block = to + 1;
        self.checkpoints.push_back((to, to_hash));
        while self.checkpoints.len() > CHECKPOINTS {
            self.checkpoints.pop_front();
        }
        polled.events = events;
        polled.caught_up = to == target;
        Ok(polled)
    }

    /// Whether the newest checkpoint is still on the chain (`true` with none yet).
    async fn tip_holds(&self, provider: &DynProvider, latest: u64) -> Result<bool, ChainError> {
        let Some(&(n, hash)) = self.checkpoints.back() else {
            return Ok(true);
        };
        if n > latest {
            return Ok(false);
        }
        Ok(block_hash(provider, n).await? == Some(hash))
    }

    /// Drops the checkpoints a reorg replaced and moves the cursor after the newest one left.
    async fn rewind(&mut self, provider: &DynProvider, latest: u64) -> Result<Reorg, ChainError> {
        let was_at = self.next_block.saturating_sub(1);
        while let Some(&(n, hash)) = self.checkpoints.back() {
            if n <= latest && block_hash(provider, n).await? == Some(hash) {
                break;
            }
            self.checkpoints.pop_back();
        }
        self.next_block = match self.checkpoints.back() {
            Some(&(n, _)) => n + 1,
            None => self.first_block,
        };
        Ok(Reorg {
            was_at,
            rescan_from: self.next_block,
        })
    }
}

/// The hash of block `n` on the node's canonical chain (`None`: no such block yet).
pub async fn block_hash(provider: &DynProvider, n: u64) -> Result<Option<B256>, ChainError> {
    Ok(provider
        .get_block_by_number(BlockNumberOrTag::Number(n))
        .await?
        .map(|b| b.header.hash))
}
