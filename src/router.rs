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

use alloy_primitives::{B256, U256};
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
    /// Proportional fee in parts per million of the forwarded amount (below 1,000,000).
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

const PPM: u64 = 1_000_000;

impl RoutingPolicy {
    /// The fee the hub keeps when `incoming` arrives to be forwarded: `fee_base` plus
    /// `fee_ppm` millionths of `incoming`, rounded down; `None` if it does not fit an amount.
    pub fn fee(&self, incoming: Amount) -> Option<Amount> {
        let prop = U256::from(incoming) * U256::from(self.fee_ppm) / U256::from(PPM);
        Amount::try_from(prop).ok()?.checked_add(self.fee_base)
    }

    /// The smallest amount to send so that `deliver` reaches the next hop after the fee, or
    /// `None` when no amount does (the fee rate is 100 % or more, or the sum overflows).
    /// Exact and bounded: a binary search over at most 128 steps.
    pub fn amount_to_send(&self, deliver: Amount) -> Option<Amount> {
        if u64::from(self.fee_ppm) >= PPM {
            return None;
        }
        let delivers = |send: Amount| {
            self.fee(send)
                .and_then(|fee| send.checked_sub(fee))
                .is_some_and(|left| left >= deliver)
        };
        // What is left after the fee never decreases as `send` grows (a fee rate below 100 %
        // takes at most one unit more per unit sent), so the answer is the first `send` that
        // delivers.
        let mut lo = deliver;
        let mut hi = Amount::MAX;
        if !delivers(hi) {
            return None;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if delivers(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    }
}

pub type Channels = HashMap<B256, Channel>;

/// Where HTLCs locked to a payment hash go: the channel of the merchant that registered the
/// invoice first, while the invoice is unexpired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub channel: B256,
    /// The invoice's amount: an HTLC that delivers less is failed at once.
    pub amount: Amount,
    /// The invoice's expiry (unix seconds): later HTLCs are failed at once.
    pub expiry: u64,
}

/// Why a route was not registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("payment hash {0} belongs to another merchant's invoice")]
    Taken(B256),
}

/// Limits on what one incoming channel may keep in flight through the hub, so that no peer
/// can fill another party's HTLC slots or tie up the hub's liquidity alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterLimits {
    /// HTLCs one incoming channel may have forwarded and not yet resolved.
    pub max_inflight_per_channel: usize,
    /// Value one incoming channel may have forwarded and not yet resolved.
    pub max_value_per_channel: Amount,
}

impl Default for RouterLimits {
    fn default() -> Self {
        RouterLimits {
            max_inflight_per_channel: 16,
            max_value_per_channel: Amount::MAX,
        }
    }
}

/// A forward in flight: the incoming HTLC and the channel it was forwarded on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Forward {
    incoming: B256,
    incoming_id: u64,
    amount: Amount,
    outgoing: B256,
}

#[derive(Debug, Default)]
pub struct Router {
    policy: RoutingPolicy,
    limits: RouterLimits,
    /// Payment hash → the channel whose peer can settle it (a merchant's invoice).
    routes: HashMap<B256, Route>,
    /// Payment hash → the forward in flight for it (an index, rebuilt by `reconcile`).
    inflight: HashMap<B256, Forward>,
    /// Incoming channel → (forwards in flight, their value).
    per_channel: HashMap<B256, (usize, Amount)>,
    /// Channels the router proposed on since the last [`Router::take_touched`].
    touched: Vec<B256>,
}

impl Router {
    pub fn new(policy: RoutingPolicy) -> Self {
        Self::with_limits(policy, RouterLimits::default())
    }

    pub fn with_limits(policy: RoutingPolicy, limits: RouterLimits) -> Self {
        Router {
            policy,
            limits,
            ..Router::default()
        }
    }

    pub fn policy(&self) -> &RoutingPolicy {
        &self.policy
    }

    /// HTLCs with `hash` go to the peer of `route.channel`. A hash belongs to the first
    /// channel that registered it until that invoice expires: registering it again for the
    /// same channel changes nothing (`Ok(false)`), for another one is an error. Returns
    /// `Ok(true)` when `route` became the hash's route (the driver records it durably).
    pub fn register(
        &mut self,
        hash: B256,
        route: Route,
        now_secs: u64,
    ) -> Result<bool, RouteError> {
        match self.routes.get(&hash) {
            Some(r) if r.expiry > now_secs && r.channel != route.channel => {
                Err(RouteError::Taken(hash))
            }
            Some(r) if r.expiry > now_secs => Ok(false),
            _ => {
                self.routes.insert(hash, route);
                Ok(true)
            }
        }
    }

    /// Registered routes per channel.
    pub fn routes_per_channel(&self) -> HashMap<B256, usize> {
        let mut n = HashMap::new();
        for r in self.routes.values() {
            *n.entry(r.channel).or_insert(0) += 1;
        }
        n
    }

    pub fn route(&self, hash: &B256) -> Option<Route> {
        self.routes.get(hash).copied()
    }

    /// Registered, unexpired routes.
    pub fn routes(&self) -> usize {
        self.routes.len()
    }

    /// Forgets the routes of invoices expired before `now_secs` (they can no longer be paid;
    /// the driver's store keeps who owned the hash).
    pub fn prune(&mut self, now_secs: u64) {
        self.routes.retain(|_, r| r.expiry > now_secs);
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
            } if *by != me => self.settle_upstream(from, *preimage, channels, now),
            Event::Updated {
                op: Op::SettleHtlc { preimage, id },
                ..
            } => {
                // We settled an incoming HTLC: pass on any refund the payee already made.
                let hash = payment_hash(preimage);
                let fwd = self.resolve(&hash, from, *id);
                let down = match fwd {
                    Some(f) => channels
                        .get(&f.outgoing)
                        .and_then(|ch| ch.ledger().payment(&hash))
                        .filter(|p| p.refunded > 0)
                        .map(|p| (f.outgoing, p.refunded)),
                    None => downstream_refunds(channels, &hash, from),
                };
                if let Some((down, refunded)) = down {
                    refund_upstream(&mut self.touched, down, hash, refunded, channels, now);
                }
            }
            Event::Updated {
                op: Op::FailHtlc { .. } | Op::ExpireHtlc { .. },
                resolved: Some(h),
                ..
            } if h.from == me => self.fail_upstream(from, h.payment_hash, channels, now),
            Event::Updated {
                op: Op::FailHtlc { .. } | Op::ExpireHtlc { .. },
                resolved: Some(h),
                ..
            } => {
                // An incoming HTLC was given back (or expired): its forward is over.
                self.resolve(&h.payment_hash, from, h.id);
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
            } => self.fail_upstream(from, *payment_hash, channels, now),
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
            } else if let Some(outgoing) = outgoing_channel(channels, &h.payment_hash) {
                self.track(h.payment_hash, cid, h.id, h.amount, outgoing);
            } else {
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
        let hash = incoming.payment_hash;
        let Some(out) = self.forward_target(from, incoming, channels, now) else {
            propose(
                &mut self.touched,
                channels,
                from,
                Op::FailHtlc { id: incoming.id },
                now,
            );
            return;
        };
        let (amount, expiry) = out.1;
        let out = out.0;
        let Some(ch) = channels.get_mut(&out) else {
            return;
        };
        let id = ch.next_htlc_id();
        let op = Op::AddHtlc {
            id,
            amount,
            payment_hash: hash,
            expiry,
        };
        self.touched.push(out);
        if ch.propose(op, now).is_err() {
            propose(
                &mut self.touched,
                channels,
                from,
                Op::FailHtlc { id: incoming.id },
                now,
            );
            return;
        }
        self.track(hash, from, incoming.id, incoming.amount, out);
    }

    /// Where and what to forward for `incoming` on channel `from`, or `None` to fail it at
    /// once: no unexpired route, another chain or token, a hash already paid or in flight,
    /// too little to pay the invoice, an expiry with no room, or the channel's limits reached.
    fn forward_target(
        &self,
        from: B256,
        incoming: &Htlc,
        channels: &Channels,
        now: u64,
    ) -> Option<(B256, (Amount, u64))> {
        let hash = incoming.payment_hash;
        let route = self.route(&hash)?;
        let now_secs = now / 1_000;
        if route.channel == from || route.expiry <= now_secs || self.inflight.contains_key(&hash) {
            return None;
        }
        let (src, dst) = (channels.get(&from)?, channels.get(&route.channel)?);
        let (a, b) = (src.params(), dst.params());
        if (a.chain_id, a.adjudicator, a.token) != (b.chain_id, b.adjudicator, b.token) {
            return None;
        }
        // Paid already (the payee's ledger has it) or on its way there.
        if dst.ledger().payment(&hash).is_some() || carries_htlc(dst, &hash) {
            return None;
        }
        let (count, value) = self.per_channel.get(&from).copied().unwrap_or((0, 0));
        if count >= self.limits.max_inflight_per_channel
            || value
                .checked_add(incoming.amount)
                .is_none_or(|v| v > self.limits.max_value_per_channel)
        {
            return None;
        }
        let amount = incoming
            .amount
            .checked_sub(self.policy.fee(incoming.amount)?)
            .filter(|a| *a > 0 && *a >= route.amount)?;
        let expiry = incoming.expiry.checked_sub(self.policy.expiry_delta)?;
        Some((route.channel, (amount, expiry)))
    }

    fn track(&mut self, hash: B256, incoming: B256, incoming_id: u64, amount: Amount, out: B256) {
        let fwd = Forward {
            incoming,
            incoming_id,
            amount,
            outgoing: out,
        };
        if self.inflight.insert(hash, fwd).is_none() {
            let e = self.per_channel.entry(incoming).or_insert((0, 0));
            e.0 = e.0.saturating_add(1);
            e.1 = e.1.saturating_add(amount);
        }
    }

    /// The forward of `hash` whose incoming HTLC `id` on `incoming` is over: drop it from the
    /// index (another incoming HTLC with the same hash, refused, leaves it alone).
    fn resolve(&mut self, hash: &B256, incoming: B256, id: u64) -> Option<Forward> {
        let fwd = self
            .inflight
            .get(hash)
            .filter(|f| f.incoming == incoming && f.incoming_id == id)?;
        let fwd = *fwd;
        self.inflight.remove(hash);
        if let Some(e) = self.per_channel.get_mut(&incoming) {
            e.0 = e.0.saturating_sub(1);
            e.1 = e.1.saturating_sub(fwd.amount);
            if e.0 == 0 {
                self.per_channel.remove(&incoming);
            }
        }
        Some(fwd)
    }

    /// The incoming HTLC (the peer's, on another channel than `except`) locked to `hash`.
    fn incoming_for(&self, channels: &Channels, hash: &B256, except: B256) -> Option<(B256, u64)> {
        match self.inflight.get(hash) {
            Some(f) if f.incoming != except => Some((f.incoming, f.incoming_id)),
            _ => incoming_with(channels, hash, except),
        }
    }

    fn settle_upstream(&mut self, from: B256, preimage: B256, channels: &mut Channels, now: u64) {
        if let Some((cid, id)) = self.incoming_for(channels, &payment_hash(&preimage), from) {
            propose(
                &mut self.touched,
                channels,
                cid,
                Op::SettleHtlc { id, preimage },
                now,
            );
        }
    }

    fn fail_upstream(&mut self, from: B256, hash: B256, channels: &mut Channels, now: u64) {
        if let Some((cid, id)) = self.incoming_for(channels, &hash, from) {
            propose(&mut self.touched, channels, cid, Op::FailHtlc { id }, now);
        }
    }
}

/// Whether `ch` carries (agreed, proposed or queued) an HTLC of ours locked to `hash`.
fn carries_htlc(ch: &Channel, hash: &B256) -> bool {
    let me = ch.me();
    ch.latest()
        .htlcs
        .iter()
        .any(|h| h.from == me && h.payment_hash == *hash)
        || ch.pending().is_some_and(
            |p| matches!(p.op, Op::AddHtlc { payment_hash, .. } if payment_hash == *hash),
        )
        || ch.queued_htlc(hash)
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

/// The channel where we hold (or are adding) an outgoing HTLC locked to `hash`.
fn outgoing_channel(channels: &Channels, hash: &B256) -> Option<B256> {
    channels
        .iter()
        .find(|(_, ch)| carries_htlc(ch, hash))
        .map(|(cid, _)| *cid)
}
