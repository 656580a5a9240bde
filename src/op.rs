//! Channel operations and the pure transition function that validates and applies them.

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::UpdateError;
use crate::ledger::{Ledger, LedgerChange, Payment};
use crate::serde_util::amount;
use crate::state::{ChannelState, Htlc, Side};
use crate::Amount;

/// One update a participant proposes. The proposer is implied by who signs the proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Op {
    /// The proposer pays the peer.
    Pay {
        payment_id: B256,
        #[serde(with = "amount")]
        amount: Amount,
    },
    /// The proposer, payee of `payment_id`, pays (part of) it back.
    Refund {
        payment_id: B256,
        #[serde(with = "amount")]
        amount: Amount,
    },
    /// The proposer locks `amount` for the peer until `expiry` (unix seconds).
    AddHtlc {
        id: u64,
        #[serde(with = "amount")]
        amount: Amount,
        payment_hash: B256,
        expiry: u64,
    },
    /// The proposer, receiver of the peer's HTLC `id`, claims it with the preimage.
    SettleHtlc { id: u64, preimage: B256 },
    /// The proposer, receiver of the peer's HTLC `id`, gives it back.
    FailHtlc { id: u64 },
    /// The proposer takes back its own HTLC `id` after expiry.
    ExpireHtlc { id: u64 },
    /// Recognise `side`'s cumulative on-chain deposit total.
    Deposit {
        side: Side,
        #[serde(with = "amount")]
        total: Amount,
    },
    /// The proposer withdraws `amount` on chain without closing.
    Withdraw {
        #[serde(with = "amount")]
        amount: Amount,
    },
    /// A final state for a cooperative close.
    Close,
}

/// Limits both participants enforce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// An HTLC must expire at least this many seconds after it is added, so that a party can
    /// always get a dispute through the challenge period before the HTLC expires.
    pub min_htlc_expiry_delta: u64,
    /// An HTLC must expire at most this many seconds after it is added, so that nobody can
    /// lock the receiver's HTLC slots (and the sender's funds) for longer.
    #[serde(default = "default_max_htlc_expiry_delta")]
    pub max_htlc_expiry_delta: u64,
    /// Most HTLCs pending at once (bounds the on-chain lock list).
    pub max_htlcs: usize,
    /// Resend an unanswered proposal after this many milliseconds.
    pub retransmit_ms: u64,
    /// Go to chain when an HTLC we are settling is this many seconds from expiry and the peer
    /// has not countersigned the settlement.
    pub chain_margin: u64,
}

/// One day: far longer than any route needs (a hop takes `min_htlc_expiry_delta` plus a hub's
/// `expiry_delta`), short enough that a stuck HTLC frees its slot the same day.
pub const DEFAULT_MAX_HTLC_EXPIRY_DELTA: u64 = 86_400;

fn default_max_htlc_expiry_delta() -> u64 {
    DEFAULT_MAX_HTLC_EXPIRY_DELTA
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_htlc_expiry_delta: 600,
            max_htlc_expiry_delta: DEFAULT_MAX_HTLC_EXPIRY_DELTA,
            max_htlcs: 64,
            retransmit_ms: 1_000,
            chain_margin: 300,
        }
    }
}

/// What a transition may consult besides the state itself.
pub struct Context<'a> {
    pub now_ms: u64,
    pub chain_deposits: [Amount; 2],
    pub ledger: &'a Ledger,
    pub policy: &'a Policy,
}

/// `sha256(preimage)`, the payment hash an HTLC is locked to.
pub fn payment_hash(preimage: &B256) -> B256 {
    B256::from_slice(&Sha256::digest(preimage))
}

fn debit(state: &mut ChannelState, side: Side, amount: Amount) -> Result<(), UpdateError> {
    if amount == 0 {
        return Err(UpdateError::ZeroAmount);
    }
    let bal = &mut state.balances[side.idx()];
    *bal = bal.checked_sub(amount).ok_or(UpdateError::Overspend {
        available: *bal,
        requested: amount,
    })?;
    Ok(())
}

fn credit(state: &mut ChannelState, side: Side, amount: Amount) -> Result<(), UpdateError> {
    let bal = &mut state.balances[side.idx()];
    *bal = bal.checked_add(amount).ok_or(UpdateError::Overflow)?;
    Ok(())
}

fn take_htlc(state: &mut ChannelState, from: Side, id: u64) -> Result<Htlc, UpdateError> {
    let pos = state
        .htlcs
        .iter()
        .position(|h| h.from == from && h.id == id)
        .ok_or(UpdateError::UnknownHtlc { id })?;
    Ok(state.htlcs.remove(pos))
}

fn expiry_ms(expiry: u64) -> u64 {
    expiry.saturating_mul(1_000)
}

/// Validates `op` proposed by `by` against `state` and returns the next state (same nonce; the
/// caller sets it) and the ledger change. Never mutates its inputs: a rejected op changes
/// nothing.
pub fn apply(
    op: &Op,
    by: Side,
    state: &ChannelState,
    ctx: &Context<'_>,
) -> Result<(ChannelState, LedgerChange), UpdateError> {
    if state.is_final {
        return Err(UpdateError::ChannelFinal);
    }
    let mut next = state.clone();
    let change = match *op {
        Op::Pay { payment_id, amount } => {
            if ctx.ledger.payment(&payment_id).is_some() {
                return Err(UpdateError::DuplicatePayment(payment_id));
            }
            debit(&mut next, by, amount)?;
            credit(&mut next, by.other(), amount)?;
            LedgerChange::Payment(
                payment_id,
                Payment {
                    payer: by,
                    amount,
                    refunded: 0,
                    preimage: None,
                },
            )
        }
        Op::Refund { payment_id, amount } => {
            let paid = ctx
                .ledger
                .payment(&payment_id)
                .ok_or(UpdateError::UnknownPayment(payment_id))?;
            if paid.payer == by {
                return Err(UpdateError::NotPayee);
            }
            if amount > paid.refundable() {
                return Err(UpdateError::RefundExceedsPayment {
                    remaining: paid.refundable(),
                    requested: amount,
                });
            }
            debit(&mut next, by, amount)?;
            credit(&mut next, by.other(), amount)?;
            let mut record = paid.clone();
            record.refunded = record
                .refunded
                .checked_add(amount)
                .ok_or(UpdateError::Overflow)?;
            LedgerChange::Payment(payment_id, record)
        }
        Op::AddHtlc {
            id,
            amount,
            payment_hash,
            expiry,
        } => {
            let last = ctx.ledger.last_htlc_id(by);
            if id <= last {
                return Err(UpdateError::HtlcIdReused { id, last });
            }
            if next.htlcs.len() >= ctx.policy.max_htlcs {
                return Err(UpdateError::TooManyHtlcs {
                    max: ctx.policy.max_htlcs,
                });
            }
            let now = ctx.now_ms.div_ceil(1_000);
            let earliest = now.saturating_add(ctx.policy.min_htlc_expiry_delta);
            if expiry < earliest {
                return Err(UpdateError::ExpiryTooSoon { expiry, earliest });
            }
            let latest = now.saturating_add(ctx.policy.max_htlc_expiry_delta);
            if expiry > latest {
                return Err(UpdateError::ExpiryTooLate { expiry, latest });
            }
            debit(&mut next, by, amount)?;
            let htlc = Htlc {
                id,
                from: by,
                amount,
                payment_hash,
                expiry,
            };
            let pos = next.htlcs.partition_point(|h| (h.from, h.id) < (by, id));
            next.htlcs.insert(pos, htlc);
            LedgerChange::HtlcId(by, id)
        }
        Op::SettleHtlc { id, preimage } => {
            let htlc = take_htlc(&mut next, by.other(), id).map_err(|e| {
                if state.htlc(by, id).is_some() {
                    UpdateError::NotHtlcReceiver
                } else {
                    e
                }
            })?;
            if payment_hash(&preimage) != htlc.payment_hash {
                return Err(UpdateError::WrongPreimage);
            }
            if ctx.now_ms >= expiry_ms(htlc.expiry) {
                return Err(UpdateError::HtlcExpired {
                    expiry: htlc.expiry,
                });
            }
            if ctx.ledger.payment(&htlc.payment_hash).is_some() {
                return Err(UpdateError::DuplicatePayment(htlc.payment_hash));
            }
            credit(&mut next, by, htlc.amount)?;
            LedgerChange::Payment(
                htlc.payment_hash,
                Payment {
                    payer: htlc.from,
                    amount: htlc.amount,
                    refunded: 0,
                    preimage: Some(preimage),
                },
            )
        }
        Op::FailHtlc { id } => {
            let htlc = take_htlc(&mut next, by.other(), id).map_err(|e| {
                if state.htlc(by, id).is_some() {
                    UpdateError::NotHtlcReceiver
                } else {
                    e
                }
            })?;
            credit(&mut next, htlc.from, htlc.amount)?;
            LedgerChange::None
        }
        Op::ExpireHtlc { id } => {
            let htlc = take_htlc(&mut next, by, id).map_err(|e| {
                if state.htlc(by.other(), id).is_some() {
                    UpdateError::NotHtlcSender
                } else {
                    e
                }
            })?;
            if ctx.now_ms < expiry_ms(htlc.expiry) {
                return Err(UpdateError::HtlcNotExpired {
                    expiry: htlc.expiry,
                });
            }
            credit(&mut next, by, htlc.amount)?;
            LedgerChange::None
        }
        Op::Deposit { side, total } => {
            let recognised = state.deposits[side.idx()];
            if total <= recognised {
                return Err(UpdateError::DepositNotIncreasing { total, recognised });
            }
            let seen = ctx.chain_deposits[side.idx()];
            if total > seen {
                return Err(UpdateError::DepositNotSeen { total, seen });
            }
            next.deposits[side.idx()] = total;
            credit(&mut next, side, total - recognised)?;
            LedgerChange::None
        }
        Op::Withdraw { amount } => {
            debit(&mut next, by, amount)?;
            let w = &mut next.withdrawn[by.idx()];
            *w = w.checked_add(amount).ok_or(UpdateError::Overflow)?;
            LedgerChange::None
        }
        Op::Close => {
            if !next.htlcs.is_empty() {
                return Err(UpdateError::HtlcsPending);
            }
            next.is_final = true;
            LedgerChange::None
        }
    };
    next.check_invariant()?;
    Ok((next, change))
}
