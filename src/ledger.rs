//! What the signed state does not carry but the protocol must remember: which payments were
//! made (so refunds can never exceed them) and the last HTLC id each side used (so an HTLC can
//! never be replayed). Both participants derive the same ledger from the agreed updates.

use std::collections::BTreeMap;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::serde_util::amount;
use crate::state::Side;
use crate::Amount;

/// A completed payment (a `Pay`, or a settled HTLC keyed by its payment hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub payer: Side,
    #[serde(with = "amount")]
    pub amount: Amount,
    #[serde(with = "amount")]
    pub refunded: Amount,
    /// For a settled HTLC: the preimage that settled it (a hub needs it to settle upstream,
    /// even after a restart).
    pub preimage: Option<B256>,
}

impl Payment {
    pub fn refundable(&self) -> Amount {
        self.amount.saturating_sub(self.refunded)
    }
}

/// The effect of one agreed update on the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerChange {
    None,
    /// A payment was made or refunded: the payment's new record.
    Payment(B256, Payment),
    /// An HTLC was added: its sender's last used id.
    HtlcId(Side, u64),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    payments: BTreeMap<B256, Payment>,
    pub(crate) last_htlc_id: [u64; 2],
}

impl Ledger {
    pub fn new(
        last_htlc_id: [u64; 2],
        payments: impl IntoIterator<Item = (B256, Payment)>,
    ) -> Self {
        Ledger {
            payments: payments.into_iter().collect(),
            last_htlc_id,
        }
    }

    pub fn payment(&self, id: &B256) -> Option<&Payment> {
        self.payments.get(id)
    }

    pub fn payments(&self) -> impl Iterator<Item = (&B256, &Payment)> {
        self.payments.iter()
    }

    pub fn last_htlc_id(&self, side: Side) -> u64 {
        self.last_htlc_id[side.idx()]
    }

    pub fn apply(&mut self, change: &LedgerChange) {
        match change {
            LedgerChange::None => {}
            LedgerChange::Payment(id, p) => {
                self.payments.insert(*id, p.clone());
            }
            LedgerChange::HtlcId(side, id) => self.last_htlc_id[side.idx()] = *id,
        }
    }
}
