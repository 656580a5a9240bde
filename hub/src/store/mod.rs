//! Durable storage of the hub: channel snapshots, payment records, invoices and chain cursor.
//! SQLite (default, embedded, WAL) and PostgreSQL (by URL), both through sqlx, with migrations
//! under `hub/migrations/`. Writes are batched into one transaction by [`GroupCommit`].

mod db;
mod error;
mod group;

pub use db::{Backend, Store};
pub use error::StoreError;
pub use group::{GroupCommit, GroupCommitStats, DEFAULT_MAX_GROUP_WRITES};

use alloy::primitives::{Address, B256};
use l2pay::channel::ChannelSnapshot;
use l2pay::ledger::Payment;
use l2pay::Amount;

/// A channel as persisted: the last snapshot and every payment record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChannel {
    pub snapshot: ChannelSnapshot,
    pub payments: Vec<(B256, Payment)>,
}

/// A merchant's invoice registered with the hub: HTLCs locked to `payment_hash` are routed to
/// `channel_id` (the merchant's channel with the hub).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub payment_hash: B256,
    pub merchant: Address,
    pub channel_id: B256,
    pub amount: Amount,
    /// The invoice string (`l2pay1…`).
    pub invoice: String,
    /// Unix seconds.
    pub expiry: u64,
    pub created_at: u64,
}

/// One durable write. A batch of writes is applied in order, in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Insert or replace a channel's snapshot.
    Snapshot {
        channel_id: B256,
        snapshot: Box<ChannelSnapshot>,
    },
    /// Insert or replace a payment record of a channel.
    Payment {
        channel_id: B256,
        payment_id: B256,
        payment: Payment,
    },
    /// Insert an invoice (idempotent on the payment hash).
    Invoice(InvoiceRecord),
    /// Set a small metadata value (e.g. the watcher's last scanned block).
    Meta { key: String, value: String },
}

impl Write {
    /// Checks what the database cannot: a snapshot is stored under its own channel id
    /// (`params.channel_id()`), so a restart never resumes a channel under the wrong key.
    pub fn validate(&self) -> Result<(), StoreError> {
        match self {
            Write::Snapshot {
                channel_id,
                snapshot,
            } => {
                let actual = snapshot.params.channel_id();
                if actual != *channel_id {
                    return Err(StoreError::ChannelIdMismatch {
                        key: *channel_id,
                        actual,
                    });
                }
                Ok(())
            }
            Write::Payment { .. } | Write::Invoice(_) | Write::Meta { .. } => Ok(()),
        }
    }
}
