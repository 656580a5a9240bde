//! HTLC forwarding for a hub (the paper's platform node): customer → hub → merchant.
//!
//! Sans-IO like the channel: the router reacts to the events of the channels a driver owns and
//! proposes ops on them. It keeps no state that is not derivable from the channels themselves:
//! an incoming and an outgoing HTLC are linked by their payment hash, and the preimage that
//! settled an outgoing HTLC is in that channel's ledger. So after a crash, [`Router::reconcile`]
//! finishes every forward from the persisted channels alone.
//!
//! Safety rules: the hub forwards only an HTLC it already holds (agreed on the incoming
//! channel); the forwarded HTLC expires `expiry_delta` seconds before the incoming one; the
//! incoming HTLC is settled as soon as the preimage is known, and failed when the outgoing one
//! fails or expires.

use std::collections::HashMap;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::channel::{Channel, Event};
use crate::op::{payment_hash, Op};
use crate::serde_util::amount;
use crate::state::Htlc;
use crate::Amount;

/// Routing fee and expiry rules of a hub.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingPolicy {
    #[serde(with = "amount")]
    pub fee_base: Amount,
    /// Proportional fee in parts per million of the forwarded amount.
    pub fee_ppm: u32,
    /// Seconds between the outgoing HTLC's expiry and the incoming one's.
    pub expiry_delta: u64,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        RoutingPolicy {
            fee_base: 0,
            fee_ppm: 0,
            expiry_delta: 900,
        }
    }
}

impl RoutingPolicy {
    /// The fee the hub keeps when `incoming` arrives to be forwarded.
    pub fn fee(&self, incoming: Amount) -> Amount {
        self.fee_base
            .saturating_add(incoming.saturating_mul(Amount::from(self.fee_ppm)) / 1_000_000)
    }

    /// The smallest amount to send so that `deliver` reaches the next hop after the fee.
    pub fn amount_to_send(&self, deliver: Amount) -> Amount {
        let ppm = Amount::from(self.fee_ppm.min(999_999));
        let mut send =
            (deliver.saturating_add(self.fee_base)).saturating_mul(1_000_000) / (1_000_000 - ppm);
        while send - self.fee(send).min(send) < deliver {
            send += 1;
        }
        send
    }
}

pub type Channels = HashMap<B256, Channel>;

#[derive(Debug, Default)]
pub struct Router {
    policy: RoutingPolicy,
    /// Payment hash → the channel whose peer can settle it (a merchant's invoice).
    routes: HashMap<B256, B256>,
    /// Channels the router proposed on since the last [`Router::take_touched`].
    touched: Vec<B256>,
}

impl Router {
    pub fn new(policy: RoutingPolicy) -> Self {
        Router {
            policy,
            routes: HashMap::new(),
            touched: Vec::new(),
        }
    }

    pub fn policy(&self) -> &RoutingPolicy {
        &self.policy
    }

    /// HTLCs with `hash` go to the peer of `channel`.
    pub fn register(&mut self, hash: B256, channel: B256) {
        self.routes.insert(hash, channel);
    }

    pub fn route(&self, hash: &B256) -> Option<B256> {
        self.routes.get(hash).copied()
    }

    /// The channels the router proposed ops on since the last call: the driver must drain
    /// their outputs.
    pub fn take_touched(&mut self) -> Vec<B256> {
        std::mem::take(&mut self.touched)
    }

    /// Reacts to one event of channel `from`.
    pub fn on_event(&mut self, from: B256, event: &Event, channels: &mut Channels, now: u64) {
        let Some(me) = channels.get(&from).map(Channel::me) else {
            return;
        };
        match event {
            Event::Updated {
                op:
                    Op::AddHtlc {
                        id,
                        amount,
                        payment_hash,
                        expiry,
                    },
                by,
                ..
            } if *by != me => {
                let incoming = Htlc {
                    id: *id,
                    from: *by,
                    amount: *amount,
                    payment_hash: *payment_hash,
                    expiry: *expiry,
                };
                self.forward(from, &incoming, channels, now);
            }
            Event::Updated {
                op: Op::SettleHtlc { preimage, .. },
                by,
                ..
            } if *by != me => settle_upstream(&mut self.touched, from, *preimage, channels, now),
            Event::Updated {
                op: Op::SettleHtlc { preimage, .. },
                ..
            } => {
                // We settled an incoming HTLC: pass on any refund the payee already made.
                let hash = payment_hash(preimage);
                if let Some((down, refunded)) = downstream_refunds(channels, &hash, from) {
                    refund_upstream(&mut self.touched, down, hash, refunded, channels, now);
                }
            }
            Event::Updated {
                op: Op::FailHtlc { .. } | Op::ExpireHtlc { .. },
                resolved: Some(h),
                ..
            } if h.from == me => {
                fail_upstream(&mut self.touched, from, h.payment_hash, channels, now)
            }
            Event::Updated {
                op: Op::Refund { payment_id, .. },
                by,
                ..
            } if *by != me => {
                let total = channels
                    .get(&from)
                    .and_then(|ch| ch.ledger().payment(payment_id))
                    .map_or(0, |p| p.refunded);
                refund_upstream(&mut self.touched, from, *payment_id, total, channels, now);
            }
            Event::ProposalRejected {
                op: Op::AddHtlc { payment_hash, .. },
                ..
            } => fail_upstream(&mut self.touched, from, *payment_hash, channels, now),
            _ => {}
        }
    }

    /// After a restart: settle every incoming HTLC whose preimage a ledger holds, fail every
    /// incoming HTLC that has no outgoing counterpart, and pass on refunds not yet passed on.
    pub fn reconcile(&mut self, channels: &mut Channels, now: u64) {
        let refunds: Vec<(B256, B256, Amount)> = channels
            .iter()
            .flat_map(|(cid, ch)| {
                let me = ch.me();
                ch.ledger()
                    .payments()
                    .filter(move |(_, p)| p.payer == me && p.refunded > 0)
                    .map(move |(id, p)| (*cid, *id, p.refunded))
            })
            .collect();
        for (from, payment_id, refunded) in refunds {
            refund_upstream(&mut self.touched, from, payment_id, refunded, channels, now);
        }
        let incoming: Vec<(B256, Htlc)> = channels
            .iter()
            .flat_map(|(cid, ch)| {
                let peer = ch.me().other();
                ch.latest()
                    .htlcs
                    .iter()
                    .filter(move |h| h.from == peer)
                    .map(move |h| (*cid, h.clone()))
            })
            .collect();
        for (cid, h) in incoming {
            if let Some(preimage) = known_preimage(channels, &h.payment_hash) {
                propose(
                    &mut self.touched,
                    channels,
                    cid,
                    Op::SettleHtlc { id: h.id, preimage },
                    now,
                );
            } else if !has_outgoing(channels, &h.payment_hash) {
                propose(
                    &mut self.touched,
                    channels,
                    cid,
                    Op::FailHtlc { id: h.id },
                    now,
                );
            }
        }
    }

    fn forward(&mut self, from: B256, incoming: &Htlc, channels: &mut Channels, now: u64) {
        let fail = Op::FailHtlc { id: incoming.id };
        let fee = self.policy.fee(incoming.amount);
        let Some(out) = self.route(&incoming.payment_hash).filter(|c| *c != from) else {
            propose(&mut self.touched, channels, from, fail, now);
            return;
        };
        let (Some(amount), Some(expiry)) = (
            incoming.amount.checked_sub(fee).filter(|a| *a > 0),
            incoming.expiry.checked_sub(self.policy.expiry_delta),
        ) else {
            propose(&mut self.touched, channels, from, fail, now);
            return;
        };
        let Some(ch) = channels.get_mut(&out) else {
            propose(&mut self.touched, channels, from, fail, now);
            return;
        };
        let id = ch.next_htlc_id();
        let op = Op::AddHtlc {
            id,
            amount,
            payment_hash: incoming.payment_hash,
            expiry,
        };
        self.touched.push(out);
        if ch.propose(op, now).is_err() {
            propose(&mut self.touched, channels, from, fail, now);
        }
    }
}

fn propose(t: &mut Vec<B256>, channels: &mut Channels, cid: B256, op: Op, now: u64) {
    t.push(cid);
    if let Some(ch) = channels.get_mut(&cid) {
        // An op that is no longer valid (already settled, failed or expired) is moot.
        let _ = ch.propose(op, now);
    }
}

/// The incoming HTLC (the peer's, on another channel than `except`) locked to `hash`.
fn incoming_with(channels: &Channels, hash: &B256, except: B256) -> Option<(B256, u64)> {
    channels
        .iter()
        .filter(|(cid, _)| **cid != except)
        .find_map(|(cid, ch)| {
            let peer = ch.me().other();
            ch.latest()
                .htlcs
                .iter()
                .find(|h| h.from == peer && h.payment_hash == *hash)
                .map(|h| (*cid, h.id))
        })
}

fn settle_upstream(
    t: &mut Vec<B256>,
    from: B256,
    preimage: B256,
    channels: &mut Channels,
    now: u64,
) {
    if let Some((cid, id)) = incoming_with(channels, &payment_hash(&preimage), from) {
        propose(t, channels, cid, Op::SettleHtlc { id, preimage }, now);
    }
}

fn fail_upstream(t: &mut Vec<B256>, from: B256, hash: B256, channels: &mut Channels, now: u64) {
    if let Some((cid, id)) = incoming_with(channels, &hash, from) {
        propose(t, channels, cid, Op::FailHtlc { id }, now);
    }
}

/// Brings the refunds of `payment_id` upstream to `downstream_refunded`, the total the
/// downstream payee has refunded so far.
fn refund_upstream(
    t: &mut Vec<B256>,
    from: B256,
    payment_id: B256,
    downstream_refunded: Amount,
    channels: &mut Channels,
    now: u64,
) {
    let upstream = channels.iter().find_map(|(cid, ch)| {
        let payer = ch.me().other();
        let paid = ch.ledger().payment(&payment_id)?;
        let queued = ch.queued_refund(&payment_id);
        (*cid != from && paid.payer == payer).then_some((
            *cid,
            paid.refunded + queued,
            paid.refundable().saturating_sub(queued),
        ))
    });
    if let Some((cid, refunded, refundable)) = upstream {
        let amount = downstream_refunded.saturating_sub(refunded).min(refundable);
        if amount > 0 {
            propose(t, channels, cid, Op::Refund { payment_id, amount }, now);
        }
    }
}

/// The channel (other than `except`) where we paid `hash` onward, with its refunded total.
fn downstream_refunds(channels: &Channels, hash: &B256, except: B256) -> Option<(B256, Amount)> {
    channels.iter().find_map(|(cid, ch)| {
        let p = ch.ledger().payment(hash)?;
        (*cid != except && p.payer == ch.me() && p.refunded > 0).then_some((*cid, p.refunded))
    })
}

/// The preimage of `hash` if any channel's ledger recorded it (an HTLC settled with it).
pub fn known_preimage(channels: &Channels, hash: &B256) -> Option<B256> {
    channels
        .values()
        .find_map(|ch| ch.ledger().payment(hash).and_then(|p| p.preimage))
}

fn has_outgoing(channels: &Channels, hash: &B256) -> bool {
    channels.values().any(|ch| {
        let me = ch.me();
        let in_latest = ch
            .latest()
            .htlcs
            .iter()
            .any(|h| h.from == me && h.payment_hash == *hash);
        let in_pending = ch.pending().is_some_and(
            |p| matches!(p.op, Op::AddHtlc { payment_hash, .. } if payment_hash == *hash),
        );
        in_latest || in_pending
    })
}
