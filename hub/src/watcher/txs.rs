//! The watchtower's transactions, followed until they are final.
//!
//! At most one transaction per (channel, action) is in flight. Each is sent with an explicit
//! nonce and EIP-1559 fees and followed by hash. One not in a block [`RESUBMIT_AFTER`] blocks
//! after it was sent (stuck in the pool, dropped from it, or in a block a reorg orphaned) is
//! sent again with the same nonce (or the account's next one, when a reorg also dropped an
//! earlier transaction) and both fees raised by 12.5 % or more, so that it replaces a copy
//! still in some pool. A transaction leaves the record once its block is `confirmations` deep;
//! while it is not, the watchtower keeps the channel under watch, so a reorg that drops it
//! finds the action wanted again and the transaction sent again. The record is stored with the
//! watched set, so a restart neither forgets a transaction in flight nor sends a duplicate.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256};
use alloy::rpc::types::TransactionRequest;
use l2pay_chain::client::{Fees, TxStatus};
use l2pay_chain::{AdjudicatorClient, ChainError};
use serde::{Deserialize, Serialize};

/// Blocks a transaction may stay out of the chain before it is sent again.
pub const RESUBMIT_AFTER: u64 = 2;
/// Fee bumps per transaction at most (1.125^20 ≈ 10.5 × the first fees); later resubmissions
/// keep the fees.
pub const MAX_BUMPS: u32 = 20;
/// Versions of one transaction remembered (any of them may be the one mined).
const MAX_VERSIONS: usize = 8;

/// What a watchtower transaction does to a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    /// `closeUnilateral` or `closeWithoutState`.
    Close,
    Challenge,
    Settle,
    /// `revealPreimage` for this payment hash.
    Reveal(B256),
    /// `claimHtlc` of this lock index.
    Claim(u64),
}

pub type Key = (B256, Action);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The versions sent, oldest first.
    hashes: Vec<B256>,
    nonce: u64,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
    /// The chain head when the newest version was sent.
    sent_at: u64,
    bumps: u32,
    /// The block the chain shows it in (refreshed every round).
    #[serde(skip)]
    mined: Option<u64>,
}

impl Pending {
    fn fees(&self) -> Fees {
        Fees {
            max_fee_per_gas: self.max_fee_per_gas,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas,
        }
    }
}

/// What [`Txs::want`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// A first transaction for the action.
    New(B256),
    /// A transaction sent again, replacing the one in flight.
    Again(B256),
    /// The one in flight is mined (not final yet) or not overdue.
    InFlight,
}

/// The record of transactions in flight.
pub struct Txs {
    from: Address,
    confirmations: u64,
    pending: BTreeMap<Key, Pending>,
    /// Actions asked for in the current round.
    wanted: BTreeSet<Key>,
    changed: bool,
}

impl Txs {
    /// `from` is the hub's account; `stored` the record of the last run.
    pub fn new(from: Address, confirmations: u64, stored: Vec<(Key, Pending)>) -> Txs {
        Txs {
            from,
            confirmations,
            pending: stored.into_iter().collect(),
            wanted: BTreeSet::new(),
            changed: false,
        }
    }

    /// The record to store.
    pub fn stored(&self) -> Vec<(Key, Pending)> {
        self.pending.iter().map(|(k, p)| (*k, p.clone())).collect()
    }

    /// Whether the record changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Whether a transaction for the channel is in flight or not final yet.
    pub fn busy(&self, channel_id: B256) -> bool {
        self.pending.keys().any(|(id, _)| *id == channel_id)
    }

    /// Starts a round at chain head `head`: finds where each transaction stands and forgets
    /// those that are final, and those whose nonce another transaction took (the chain state
    /// decides anew whether the action is still needed).
    pub async fn begin(&mut self, chain: &AdjudicatorClient, head: u64) -> Result<(), ChainError> {
        self.wanted.clear();
        if self.pending.is_empty() {
            return Ok(());
        }
        let mined_nonce = chain.mined_nonce(self.from).await?;
        let keys: Vec<Key> = self.pending.keys().copied().collect();
        for key in keys {
            let Some(p) = self.pending.get_mut(&key) else {
                continue;
            };
            let mut found = None;
            for hash in p.hashes.iter().rev() {
                if let TxStatus::Mined { block, success } = chain.tx_status(*hash).await? {
                    found = Some((*hash, block, success));
                    break;
                }
            }
            p.mined = found.map(|(_, block, _)| block);
            match found {
                Some((hash, block, success))
                    if head >= block.saturating_add(self.confirmations) =>
                {
                    if success {
                        tracing::info!(channel = %key.0, action = ?key.1, tx = %hash, block, "transaction final");
                    } else {
                        tracing::warn!(channel = %key.0, action = ?key.1, tx = %hash, block, "transaction final but reverted");
                    }
                    self.pending.remove(&key);
                    self.changed = true;
                }
                Some(_) => {}
                None if mined_nonce > p.nonce => {
                    tracing::info!(channel = %key.0, action = ?key.1, nonce = p.nonce, "nonce taken by another transaction; re-deciding");
                    self.pending.remove(&key);
                    self.changed = true;
                }
                None => {}
            }
        }
        Ok(())
    }

    /// The chain state calls for `key`'s action, done by `tx`: sends it unless a transaction
    /// for it is in flight and not overdue; sends it again (replacing) if overdue.
    pub async fn want(
        &mut self,
        chain: &AdjudicatorClient,
        key: Key,
        tx: TransactionRequest,
        head: u64,
    ) -> Result<Sent, ChainError> {
        self.wanted.insert(key);
        let Some(p) = self.pending.get(&key) else {
            let nonce = chain.pending_nonce(self.from).await?;
            let fees = chain.suggested_fees().await?;
            let hash = chain.submit(tx, self.from, nonce, fees).await?;
            self.pending.insert(
                key,
                Pending {
                    hashes: vec![hash],
                    nonce,
                    max_fee_per_gas: fees.max_fee_per_gas,
                    max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
                    sent_at: head,
                    bumps: 0,
                    mined: None,
                },
            );
            self.changed = true;
            return Ok(Sent::New(hash));
        };
        if p.mined.is_some() || head < p.sent_at.saturating_add(RESUBMIT_AFTER) {
            return Ok(Sent::InFlight);
        }
        // A reorg may also have dropped an earlier transaction of the hub: then the account's
        // next nonce is below this one, which could never be mined behind the gap.
        let nonce = p.nonce.min(chain.pending_nonce(self.from).await?);
        let (fees, bumps) = if p.bumps < MAX_BUMPS {
            (
                p.fees().bumped().max(chain.suggested_fees().await?),
                p.bumps + 1,
            )
        } else {
            (p.fees(), p.bumps)
        };
        let status = match p.hashes.last() {
            Some(h) => chain.tx_status(*h).await?,
            None => TxStatus::Unknown,
        };
        let hash = chain.submit(tx, self.from, nonce, fees).await?;
        tracing::warn!(
            channel = %key.0,
            action = ?key.1,
            nonce,
            was = ?status,
            max_fee = fees.max_fee_per_gas,
            priority_fee = fees.max_priority_fee_per_gas,
            tx = %hash,
            "transaction not mined in time; sent again"
        );
        if let Some(p) = self.pending.get_mut(&key) {
            if !p.hashes.contains(&hash) {
                p.hashes.push(hash);
            }
            if p.hashes.len() > MAX_VERSIONS {
                p.hashes.remove(0);
            }
            p.nonce = nonce;
            p.max_fee_per_gas = fees.max_fee_per_gas;
            p.max_priority_fee_per_gas = fees.max_priority_fee_per_gas;
            p.sent_at = head;
            p.bumps = bumps;
        }
        self.changed = true;
        Ok(Sent::Again(hash))
    }

    /// Ends a round: a transaction that is in no block and whose action the chain state of
    /// its channel (read without error in this round: `guarded`) no longer calls for is
    /// forgotten.
    pub fn end(&mut self, guarded: &BTreeSet<B256>) {
        let before = self.pending.len();
        let wanted = &self.wanted;
        self.pending
            .retain(|k, p| p.mined.is_some() || wanted.contains(k) || !guarded.contains(&k.0));
        if self.pending.len() != before {
            self.changed = true;
        }
    }
}
