//! The sans-IO channel state machine between two participants.
//!
//! Methods come in four kinds (as in quinn-proto): getters; inputs (`propose`,
//! `handle_message`, `handle_persisted`, `handle_timeout`, `handle_connected`,
//! `handle_chain_deposit`); and outputs, drained with [`Channel::poll_output`] until it returns
//! `None`, plus [`Channel::poll_timeout`] for the next deadline.
//!
//! Persist before send: every change of the durable record is emitted as
//! [`Output::Persist`] with a sequence number. A message that depends on that record is held
//! back, and even signed, only after the driver confirms the write with
//! [`Channel::handle_persisted`]. Signatures are deterministic (RFC 6979) and only ever made
//! over states already in a durable record, so no nonce is signed for two different states,
//! even across a crash and restart from the last persisted record.
//!
//! Concurrent proposals: when both sides propose on the same agreed state, participant A's op
//! goes first. A re-proposes above every nonce either side signed; B withdraws its proposal
//! (signed at a nonce it will never sign again), countersigns A's, and proposes again after.

use std::collections::VecDeque;
use std::sync::Arc;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::error::{Error, UpdateError};
use crate::ledger::{Ledger, LedgerChange, Payment};
use crate::op::{apply, Context, Op, Policy};
use crate::serde_util::amount_pair;
use crate::signer::{KeyCache, Signature, Signer};
use crate::state::{ChannelParams, ChannelState, Htlc, Side, MAX_NONCE, MAX_NONCE_STEP};
use crate::wire::{Accept, Message, Propose, Reestablish, Reject, RejectReason};
use crate::Amount;

/// Most ops a channel queues behind its proposal in flight: a driver that keeps proposing to
/// a peer that does not answer gets [`Error::QueueFull`] instead of growing the queue.
pub const MAX_QUEUED_OPS: usize = 1_024;

/// Our outstanding proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub op: Op,
    /// The state the op produces, at the proposal's nonce.
    pub state: ChannelState,
}

/// Everything a participant must keep durably to resume the channel after a crash.
/// Payments live outside the snapshot (see [`Persist::payment`]) so that the snapshot stays
/// small however many payments the channel carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSnapshot {
    pub params: ChannelParams,
    pub me: Side,
    pub policy: Policy,
    /// The latest agreed state.
    pub latest: ChannelState,
    /// The peer's signature on `latest` (absent only at nonce 0).
    pub latest_peer_sig: Option<Signature>,
    pub pending: Option<Proposal>,
    /// The highest nonce this participant ever committed to signing.
    pub highest_signed: u64,
    /// Cumulative deposits the chain shows for `[A, B]`.
    #[serde(with = "amount_pair")]
    pub chain_deposits: [Amount; 2],
    pub last_htlc_id: [u64; 2],
}

/// A durable write the driver must make, then confirm with `handle_persisted(seq)`.
/// Writes must be applied in order; a driver may coalesce consecutive ones into one
/// transaction (the last snapshot plus every payment upsert) and confirm the last `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Persist {
    pub seq: u64,
    pub snapshot: ChannelSnapshot,
    /// A payment record to insert or replace.
    pub payment: Option<(B256, Payment)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An update was agreed (both signatures held). `resolved` is the HTLC a settle, fail
    /// or expiry removed.
    Updated {
        nonce: u64,
        op: Op,
        by: Side,
        resolved: Option<Htlc>,
    },
    /// Our proposal was refused by the peer or became invalid before it could be proposed.
    ProposalRejected { op: Op, reason: RejectReason },
    /// The off-chain protocol can no longer protect our funds: close on chain now.
    GoToChain { reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Persist(Box<Persist>),
    Send(Message),
    Event(Event),
}

/// A message whose release waits for a durable write.
#[derive(Debug)]
enum Deferred {
    /// Sign the pending proposal at this nonce and send it.
    Propose(u64),
    /// Countersign the latest state at this nonce and send the acceptance.
    Accept(u64),
    /// Tell the peer where we stand (built from the durable state at release).
    Reestablish,
    Send(Box<Message>),
}

pub struct Channel {
    snap: ChannelSnapshot,
    ledger: Ledger,
    signer: Arc<dyn Signer>,
    channel_id: B256,
    /// Our signature on `snap.latest`, computed lazily.
    my_latest_sig: Option<(u64, Signature)>,
    /// Our signature on the pending proposal, kept for when it becomes the latest state.
    my_pending_sig: Option<(u64, Signature)>,
    /// The peer's public key once one of its signatures verified (not persisted): later
    /// signatures are verified against it instead of recovering the key each time.
    peer_key: KeyCache,
    queue: VecDeque<Op>,
    next_seq: u64,
    durable_seq: u64,
    held: VecDeque<(u64, Deferred)>,
    out: VecDeque<Output>,
    connected: bool,
    /// When our pending proposal was last sent.
    sent_at: Option<u64>,
    /// After a conflict B yields to A until this time.
    yield_until: Option<u64>,
    go_to_chain_sent: bool,
    failed: Option<Error>,
}

impl Channel {
    /// A new channel at nonce 0. Emits the first snapshot to persist.
    pub fn new(params: ChannelParams, me: Side, signer: Arc<dyn Signer>, policy: Policy) -> Self {
        assert_eq!(
            params.address(me),
            signer.address(),
            "the signer must be participant {me:?}"
        );
        let snap = ChannelSnapshot {
            params,
            me,
            policy,
            latest: ChannelState::initial(),
            latest_peer_sig: None,
            pending: None,
            highest_signed: 0,
            chain_deposits: [0, 0],
            last_htlc_id: [0, 0],
        };
        let mut ch = Self::restore(snap, Vec::new(), signer);
        ch.persist(None);
        ch
    }

    /// Resumes from the last durable snapshot and payment records.
    pub fn restore(
        snap: ChannelSnapshot,
        payments: Vec<(B256, Payment)>,
        signer: Arc<dyn Signer>,
    ) -> Self {
        Channel {
            channel_id: snap.params.channel_id(),
            ledger: Ledger::new(snap.last_htlc_id, payments),
            snap,
            signer,
            my_latest_sig: None,
            my_pending_sig: None,
            peer_key: KeyCache::default(),
            queue: VecDeque::new(),
            next_seq: 1,
            durable_seq: 0,
            held: VecDeque::new(),
            out: VecDeque::new(),
            connected: false,
            sent_at: None,
            yield_until: None,
            go_to_chain_sent: false,
            failed: None,
        }
    }

    // ----- getters -----

    pub fn id(&self) -> B256 {
        self.channel_id
    }

    pub fn params(&self) -> &ChannelParams {
        &self.snap.params
    }

    pub fn me(&self) -> Side {
        self.snap.me
    }

    pub fn latest(&self) -> &ChannelState {
        &self.snap.latest
    }

    pub fn snapshot(&self) -> &ChannelSnapshot {
        &self.snap
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn pending(&self) -> Option<&Proposal> {
        self.snap.pending.as_ref()
    }

    /// True when nothing is in flight or queued.
    pub fn is_idle(&self) -> bool {
        self.snap.pending.is_none() && self.queue.is_empty() && self.held.is_empty()
    }

    /// The id for our next HTLC: above every id we used, proposed or queued.
    pub fn next_htlc_id(&self) -> u64 {
        let pending = match self.snap.pending.as_ref().map(|p| &p.op) {
            Some(Op::AddHtlc { id, .. }) => *id,
            _ => 0,
        };
        self.ledger
            .last_htlc_id(self.snap.me)
            .max(pending)
            .max(self.queued_htlc_id())
            .saturating_add(1)
    }

    /// The highest HTLC id among our queued (not yet proposed) ops.
    pub fn queued_htlc_id(&self) -> u64 {
        self.queue
            .iter()
            .filter_map(|op| match op {
                Op::AddHtlc { id, .. } => Some(*id),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Whether one of our queued (not yet proposed) ops adds an HTLC locked to `hash`.
    pub fn queued_htlc(&self, hash: &B256) -> bool {
        self.queue
            .iter()
            .any(|op| matches!(op, Op::AddHtlc { payment_hash, .. } if payment_hash == hash))
    }

    /// How much of `payment_id` our queued or pending ops are about to refund.
    pub fn queued_refund(&self, payment_id: &B256) -> Amount {
        self.snap
            .pending
            .iter()
            .map(|p| &p.op)
            .chain(self.queue.iter())
            .map(|op| match op {
                Op::Refund {
                    payment_id: id,
                    amount,
                } if id == payment_id => *amount,
                _ => 0,
            })
            .fold(0, Amount::saturating_add)
    }

    pub fn failure(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// The latest agreed state with both signatures `[A, B]`, ready for the contract.
    pub fn signed_latest(&mut self) -> Option<(ChannelState, [Signature; 2])> {
        let peer = self.snap.latest_peer_sig?;
        let mine = self.my_sig_on_latest();
        let sigs = match self.snap.me {
            Side::A => [mine, peer],
            Side::B => [peer, mine],
        };
        Some((self.snap.latest.clone(), sigs))
    }

    // ----- inputs -----

    /// Queues an op of ours. Returns an error at once if it is invalid on the state it would
    /// apply to now; otherwise the result arrives as [`Event::Updated`] or
    /// [`Event::ProposalRejected`].
    pub fn propose(&mut self, op: Op, now: u64) -> Result<(), Error> {
        self.check_failed()?;
        let base = self
            .snap
            .pending
            .as_ref()
            .map_or(&self.snap.latest, |p| &p.state);
        apply(&op, self.snap.me, base, &self.context(now))?;
        if self.queue.len() >= MAX_QUEUED_OPS {
            return Err(Error::QueueFull {
                max: MAX_QUEUED_OPS,
            });
        }
        self.queue.push_back(op);
        self.try_propose(now);
        Ok(())
    }

    /// The driver wrote everything up to `seq`: release what waited for it.
    pub fn handle_persisted(&mut self, seq: u64) {
        self.durable_seq = self.durable_seq.max(seq);
        while let Some((s, _)) = self.held.front() {
            if *s > self.durable_seq {
                break;
            }
            if let Some((_, d)) = self.held.pop_front() {
                self.release(d);
            }
        }
    }

    pub fn handle_connected(&mut self, now: u64) {
        self.connected = true;
        self.hold(Deferred::Reestablish);
        self.sent_at = self.snap.pending.as_ref().map(|_| now);
    }

    pub fn handle_disconnected(&mut self) {
        self.connected = false;
    }

    /// The chain shows `side`'s cumulative deposits at `total`.
    pub fn handle_chain_deposit(&mut self, side: Side, total: Amount, now: u64) {
        let seen = &mut self.snap.chain_deposits[side.idx()];
        if total <= *seen {
            return;
        }
        *seen = total;
        self.persist(None);
        let queued = self
            .queue
            .iter()
            .any(|op| matches!(op, Op::Deposit { side: s, .. } if *s == side));
        if side == self.snap.me && !queued && total > self.snap.latest.deposits[side.idx()] {
            self.queue.push_back(Op::Deposit { side, total });
            self.try_propose(now);
        }
    }

    /// The chain shows a close of this channel: the off-chain channel is over. Every later
    /// input is refused with [`Error::Failed`]; the latest signed state stays available for
    /// the dispute ([`Channel::signed_latest`]).
    pub fn handle_chain_closing(&mut self) {
        if self.failed.is_none() {
            self.failed = Some(Error::Failed("a close is registered on chain".into()));
        }
    }

    /// The driver found this channel unusable (an internal error): every later input is
    /// refused with [`Error::Failed`]; the latest signed state stays available for a dispute.
    pub fn quarantine(&mut self, reason: &str) {
        if self.failed.is_none() {
            self.failed = Some(Error::Failed(reason.into()));
        }
    }

    pub fn handle_timeout(&mut self, now: u64) {
        if self.failed.is_some() {
            return;
        }
        let rto = self.snap.policy.retransmit_ms;
        if self.yield_until.is_some_and(|t| now >= t) {
            self.yield_until = None;
        }
        if let Some(sent) = self.sent_at {
            if self.connected && now >= sent.saturating_add(rto) {
                if let Some(p) = &self.snap.pending {
                    self.hold(Deferred::Propose(p.state.nonce));
                    self.sent_at = Some(now);
                }
            }
        }
        self.expire_htlcs(now);
        self.check_settle_deadlines(now);
        self.try_propose(now);
    }

    /// The next time [`Channel::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.failed.is_some() {
            return None;
        }
        let retransmit = self
            .sent_at
            .filter(|_| self.connected)
            .map(|t| t.saturating_add(self.snap.policy.retransmit_ms));
        let expiry = self
            .snap
            .latest
            .htlcs
            .iter()
            .map(|h| {
                if h.from == self.snap.me {
                    h.expiry.saturating_mul(1_000)
                } else {
                    h.expiry
                        .saturating_sub(self.snap.policy.chain_margin)
                        .saturating_mul(1_000)
                }
            })
            .min();
        [retransmit, expiry, self.yield_until]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Handles one message from the peer. On error nothing about the channel changed; the
    /// error says whether the channel must go to chain ([`Error::requires_chain`]).
    pub fn handle_message(&mut self, msg: Message, now: u64) -> Result<(), Error> {
        self.check_failed()?;
        if msg.channel_id() != self.channel_id {
            return Err(Error::UnknownChannel(msg.channel_id()));
        }
        let result = match msg {
            Message::Propose(p) => self.on_propose(p, now),
            Message::Accept(a) => self.on_accept(a, now),
            Message::Reject(r) => self.on_reject(r, now),
            Message::Reestablish(r) => self.on_reestablish(r, now),
        };
        if let Err(e) = &result {
            if e.requires_chain() {
                self.fail(e.clone());
            }
        }
        result
    }

    // ----- protocol -----

    fn on_propose(&mut self, p: Propose, now: u64) -> Result<(), Error> {
        let latest_nonce = self.snap.latest.nonce;
        if p.nonce <= latest_nonce {
            return self.on_old_proposal(&p);
        }
        let max = self.nonce_ceiling();
        if p.nonce > max {
            // A nonce that leaves no room to continue, or a jump no honest peer makes.
            self.reject(p.nonce, RejectReason::OutOfSync);
            return Err(Error::NonceTooHigh { got: p.nonce, max });
        }
        if p.base_nonce > latest_nonce {
            self.catch_up(p.base_nonce, p.base_sig)?;
        }
        if p.base_nonce != self.snap.latest.nonce {
            self.reject(p.nonce, RejectReason::OutOfSync);
            return Err(Error::BaseMismatch {
                got: p.base_nonce,
                agreed: self.snap.latest.nonce,
            });
        }
        // Validate and verify before anything else changes: a refused proposal (an invalid op,
        // a bad signature) must leave the channel exactly as it was, our own pending
        // proposal included.
        let peer = self.snap.me.other();
        let (mut next, change) = match apply(&p.op, peer, &self.snap.latest, &self.context(now)) {
            Ok(r) => r,
            Err(e) => {
                self.reject(p.nonce, RejectReason::Invalid(e.clone()));
                return Err(e.into());
            }
        };
        next.nonce = p.nonce;
        let digest = next.digest(&self.snap.params);
        if let Err(e) = p
            .sig
            .verify_cached(&digest, self.snap.params.address(peer), &self.peer_key)
        {
            self.reject(p.nonce, RejectReason::BadSignature);
            return Err(e.into());
        }
        if self.snap.pending.is_some() {
            if self.snap.me == Side::A {
                self.reject(p.nonce, RejectReason::Conflict);
                self.repropose_above(p.nonce, now);
                return Ok(());
            }
            self.withdraw_pending(now);
        }
        if p.nonce <= self.snap.highest_signed {
            self.reject(p.nonce, RejectReason::Conflict);
            return Ok(());
        }
        self.yield_until = None;
        self.snap.highest_signed = p.nonce;
        let payment = self.commit(next, p.sig, p.op, peer, change);
        self.persist(payment);
        self.hold(Deferred::Accept(p.nonce));
        self.try_propose(now);
        Ok(())
    }

    /// A proposal at or below our agreed nonce: a duplicate (answer it again) or a replay.
    fn on_old_proposal(&mut self, p: &Propose) -> Result<(), Error> {
        let latest = &self.snap.latest;
        // The very signature we verified when we agreed this state: answer it again without
        // verifying anything (a flood of duplicates costs no signature check).
        if p.nonce == latest.nonce && Some(p.sig) == self.snap.latest_peer_sig {
            self.hold(Deferred::Accept(p.nonce));
            return Ok(());
        }
        Err(Error::StaleNonce {
            got: p.nonce,
            current: latest.nonce,
        })
    }

    /// The peer has agreed our pending proposal at `nonce` (shown by its signature on it).
    fn catch_up(&mut self, nonce: u64, sig: Option<Signature>) -> Result<(), Error> {
        let Some(pending) = self
            .snap
            .pending
            .as_ref()
            .filter(|p| p.state.nonce == nonce)
        else {
            return Err(Error::BaseMismatch {
                got: nonce,
                agreed: self.snap.latest.nonce,
            });
        };
        let sig = sig.ok_or(Error::BaseMismatch {
            got: nonce,
            agreed: self.snap.latest.nonce,
        })?;
        let peer = self.snap.params.address(self.snap.me.other());
        sig.verify_cached(
            &pending.state.digest(&self.snap.params),
            peer,
            &self.peer_key,
        )?;
        self.adopt_pending(sig);
        Ok(())
    }

    fn on_accept(&mut self, a: Accept, now: u64) -> Result<(), Error> {
        match &self.snap.pending {
            Some(p) if p.state.nonce == a.nonce => {
                let peer = self.snap.params.address(self.snap.me.other());
                a.sig
                    .verify_cached(&p.state.digest(&self.snap.params), peer, &self.peer_key)?;
                self.adopt_pending(a.sig);
                self.try_propose(now);
                Ok(())
            }
            _ if a.nonce == self.snap.latest.nonce && Some(a.sig) == self.snap.latest_peer_sig => {
                Ok(())
            }
            _ => Err(Error::StaleNonce {
                got: a.nonce,
                current: self.snap.latest.nonce,
            }),
        }
    }

    fn on_reject(&mut self, r: Reject, now: u64) -> Result<(), Error> {
        let Some(pending) = self
            .snap
            .pending
            .as_ref()
            .filter(|p| p.state.nonce == r.nonce)
        else {
            return Ok(());
        };
        match r.reason {
            RejectReason::Conflict if self.snap.me == Side::A => {
                // An unsigned claim: bounded like a proposal's nonce.
                let max = self.nonce_ceiling();
                let floor = r.highest_signed.max(r.nonce);
                if floor > max {
                    return Err(Error::NonceTooHigh { got: floor, max });
                }
                self.repropose_above(floor, now);
            }
            RejectReason::Conflict => self.withdraw_pending(now),
            RejectReason::Invalid(
                UpdateError::DepositNotSeen { .. } | UpdateError::HtlcNotExpired { .. },
            ) => {
                // The peer's view of the chain or clock lags ours: it signed nothing, and the
                // same state will be valid for it shortly. Keep the proposal and send the same
                // signed bytes again after the retransmission interval. Never withdraw it: an
                // earlier or later copy of it (a retransmission, or the one sent again in answer
                // to a `Reestablish`) may reach the peer after it has caught up and be
                // accepted, and that `Accept` must find this proposal here. Dropping it and
                // re-proposing the op at a new nonce left the peer agreed on this nonce and us
                // on the base, both waiting for ever.
                self.sent_at = Some(now);
            }
            reason => {
                let op = pending.op.clone();
                self.snap.pending = None;
                self.sent_at = None;
                self.persist(None);
                self.event(Event::ProposalRejected { op, reason });
                self.try_propose(now);
            }
        }
        Ok(())
    }

    fn on_reestablish(&mut self, r: Reestablish, now: u64) -> Result<(), Error> {
        let ours = self.snap.latest.nonce;
        if r.latest_nonce > ours {
            self.catch_up(r.latest_nonce, r.latest_sig).map_err(|_| {
                Error::Desync(format!(
                    "peer claims agreed nonce {}, we hold {ours} and never proposed it",
                    r.latest_nonce
                ))
            })?;
        } else if r.latest_nonce < ours && self.snap.latest_peer_sig.is_some() {
            // The peer missed our acceptance of its last proposal.
            self.hold(Deferred::Accept(ours));
        }
        if let Some(p) = &self.snap.pending {
            self.hold(Deferred::Propose(p.state.nonce));
            self.sent_at = Some(now);
        }
        self.try_propose(now);
        Ok(())
    }

    // ----- mutators -----

    /// Turns our pending proposal into the agreed state, countersigned by `peer_sig`.
    fn adopt_pending(&mut self, peer_sig: Signature) {
        let p = self.snap.pending.take().expect("caller checked pending");
        let me = self.snap.me;
        let change = ledger_change(&p.op, me, &self.snap.latest, &self.ledger);
        let nonce = p.state.nonce;
        let payment = self.commit(p.state, peer_sig, p.op, me, change);
        self.my_latest_sig = self.my_pending_sig.take().filter(|(n, _)| *n == nonce);
        self.sent_at = None;
        self.persist(payment);
    }

    /// Makes `state` the agreed state; returns the payment record to persist with it.
    fn commit(
        &mut self,
        state: ChannelState,
        peer_sig: Signature,
        op: Op,
        by: Side,
        change: LedgerChange,
    ) -> Option<(B256, Payment)> {
        assert!(
            state.check_invariant().is_ok(),
            "balances + locked HTLCs must equal deposits - withdrawals"
        );
        let nonce = state.nonce;
        let resolved = match op {
            Op::SettleHtlc { id, .. } | Op::FailHtlc { id } => {
                self.snap.latest.htlc(by.other(), id)
            }
            Op::ExpireHtlc { id } => self.snap.latest.htlc(by, id),
            _ => None,
        }
        .cloned();
        self.ledger.apply(&change);
        self.snap.last_htlc_id = self.ledger.last_htlc_id;
        self.snap.latest = state;
        self.snap.latest_peer_sig = Some(peer_sig);
        self.my_latest_sig = None;
        self.event(Event::Updated {
            nonce,
            op,
            by,
            resolved,
        });
        match change {
            LedgerChange::Payment(id, p) => Some((id, p)),
            _ => None,
        }
    }

    /// Proposes the next queued op, unless a proposal is in flight or we yield to A.
    fn try_propose(&mut self, now: u64) {
        if self.failed.is_some()
            || self.snap.pending.is_some()
            || self.snap.latest.is_final
            || self.yield_until.is_some_and(|t| now < t)
        {
            return;
        }
        while let Some(op) = self.queue.pop_front() {
            match apply(&op, self.snap.me, &self.snap.latest, &self.context(now)) {
                Ok((mut state, _)) => {
                    let Some(nonce) =
                        next_nonce(self.snap.highest_signed.max(self.snap.latest.nonce))
                    else {
                        self.queue.push_front(op);
                        self.fail(Error::NoncesExhausted);
                        return;
                    };
                    state.nonce = nonce;
                    self.snap.highest_signed = nonce;
                    self.snap.pending = Some(Proposal { op, state });
                    self.persist(None);
                    self.hold(Deferred::Propose(nonce));
                    self.sent_at = Some(now);
                    return;
                }
                Err(e) => self.event(Event::ProposalRejected {
                    op,
                    reason: RejectReason::Invalid(e),
                }),
            }
        }
    }

    /// A's answer to a conflict: the same op again, above every nonce either side signed.
    fn repropose_above(&mut self, floor: u64, now: u64) {
        let Some(p) = self.snap.pending.as_mut() else {
            return;
        };
        if p.state.nonce > floor {
            return;
        }
        let Some(nonce) = next_nonce(self.snap.highest_signed.max(floor)) else {
            self.fail(Error::NoncesExhausted);
            return;
        };
        p.state.nonce = nonce;
        self.snap.highest_signed = nonce;
        self.persist(None);
        self.hold(Deferred::Propose(nonce));
        self.sent_at = Some(now);
    }

    /// B's answer to a conflict: take the op back and let A's proposal through first.
    fn withdraw_pending(&mut self, now: u64) {
        if let Some(p) = self.snap.pending.take() {
            self.queue.push_front(p.op);
            self.sent_at = None;
            self.yield_until =
                Some(now.saturating_add(self.snap.policy.retransmit_ms.saturating_mul(2)));
            self.persist(None);
        }
    }

    fn expire_htlcs(&mut self, now: u64) {
        let me = self.snap.me;
        let due: Vec<u64> = self
            .snap
            .latest
            .htlcs
            .iter()
            .filter(|h| h.from == me && now >= h.expiry.saturating_mul(1_000))
            .map(|h| h.id)
            .collect();
        for id in due {
            let op = Op::ExpireHtlc { id };
            let in_flight = self.snap.pending.as_ref().is_some_and(|p| p.op == op);
            if !in_flight && !self.queue.contains(&op) {
                self.queue.push_back(op);
            }
        }
    }

    /// An HTLC we are settling that the peer has not countersigned close to its expiry must
    /// be claimed on chain, or the preimage we revealed is worth nothing to us.
    fn check_settle_deadlines(&mut self, now: u64) {
        if self.go_to_chain_sent {
            return;
        }
        let margin = self.snap.policy.chain_margin;
        let settling = |op: &Op| match op {
            Op::SettleHtlc { id, .. } => Some(*id),
            _ => None,
        };
        let ids: Vec<u64> = self
            .snap
            .pending
            .iter()
            .map(|p| &p.op)
            .chain(self.queue.iter())
            .filter_map(settling)
            .collect();
        let peer = self.snap.me.other();
        let late = self.snap.latest.htlcs.iter().find(|h| {
            h.from == peer
                && ids.contains(&h.id)
                && now >= h.expiry.saturating_sub(margin).saturating_mul(1_000)
        });
        if let Some(h) = late {
            let reason = format!(
                "HTLC {} expires at {} and the peer has not settled",
                h.id, h.expiry
            );
            self.go_to_chain_sent = true;
            self.event(Event::GoToChain { reason });
        }
    }

    fn fail(&mut self, e: Error) {
        if self.failed.is_none() {
            self.event(Event::GoToChain {
                reason: e.to_string(),
            });
            self.failed = Some(e);
        }
    }

    /// The highest nonce a peer's proposal (or conflict claim) may carry now.
    fn nonce_ceiling(&self) -> u64 {
        self.snap
            .highest_signed
            .max(self.snap.latest.nonce)
            .saturating_add(MAX_NONCE_STEP)
            .min(MAX_NONCE)
    }

    fn check_failed(&self) -> Result<(), Error> {
        match &self.failed {
            Some(e) => Err(Error::Failed(e.to_string())),
            None => Ok(()),
        }
    }

    fn context(&self, now: u64) -> Context<'_> {
        Context {
            now_ms: now,
            chain_deposits: self.snap.chain_deposits,
            ledger: &self.ledger,
            policy: &self.snap.policy,
        }
    }

    fn my_sig_on_latest(&mut self) -> Signature {
        let nonce = self.snap.latest.nonce;
        match self.my_latest_sig {
            Some((n, sig)) if n == nonce => sig,
            _ => {
                let sig = self
                    .signer
                    .sign_digest(&self.snap.latest.digest(&self.snap.params));
                self.my_latest_sig = Some((nonce, sig));
                sig
            }
        }
    }

    // ----- outputs -----

    fn persist(&mut self, payment: Option<(B256, Payment)>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.out.push_back(Output::Persist(Box::new(Persist {
            seq,
            snapshot: self.snap.clone(),
            payment,
        })));
        seq
    }

    /// Queues a message behind every write issued so far.
    fn hold(&mut self, d: Deferred) {
        self.held.push_back((self.next_seq - 1, d));
        self.handle_persisted(self.durable_seq);
    }

    fn send(&mut self, m: Message) {
        self.hold(Deferred::Send(Box::new(m)));
    }

    fn reject(&mut self, nonce: u64, reason: RejectReason) {
        self.send(Message::Reject(Reject {
            channel_id: self.channel_id,
            nonce,
            reason,
            highest_signed: self.snap.highest_signed,
        }));
    }

    fn release(&mut self, d: Deferred) {
        let msg = match d {
            Deferred::Propose(nonce) => {
                let Some(p) = self
                    .snap
                    .pending
                    .as_ref()
                    .filter(|p| p.state.nonce == nonce)
                else {
                    return;
                };
                let (op, digest) = (p.op.clone(), p.state.digest(&self.snap.params));
                let base_sig = (self.snap.latest.nonce > 0).then(|| self.my_sig_on_latest());
                Message::Propose(Propose {
                    channel_id: self.channel_id,
                    base_nonce: self.snap.latest.nonce,
                    nonce,
                    op,
                    sig: self.signer.sign_digest(&digest),
                    base_sig,
                })
            }
            Deferred::Accept(nonce) => {
                if self.snap.latest.nonce != nonce {
                    return;
                }
                Message::Accept(Accept {
                    channel_id: self.channel_id,
                    nonce,
                    sig: self.my_sig_on_latest(),
                })
            }
            Deferred::Reestablish => Message::Reestablish(Reestablish {
                channel_id: self.channel_id,
                latest_nonce: self.snap.latest.nonce,
                latest_sig: (self.snap.latest.nonce > 0).then(|| self.my_sig_on_latest()),
                highest_signed: self.snap.highest_signed,
            }),
            Deferred::Send(m) => *m,
        };
        self.out.push_back(Output::Send(msg));
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }
}

/// The nonce after `n`, if the channel has one left.
fn next_nonce(n: u64) -> Option<u64> {
    n.checked_add(1).filter(|n| *n <= MAX_NONCE)
}

/// The ledger effect of an op already validated on `base` (no time checks).
fn ledger_change(op: &Op, by: Side, base: &ChannelState, ledger: &Ledger) -> LedgerChange {
    match *op {
        Op::Pay { payment_id, amount } => LedgerChange::Payment(
            payment_id,
            Payment {
                payer: by,
                amount,
                refunded: 0,
                preimage: None,
            },
        ),
        Op::Refund { payment_id, amount } => match ledger.payment(&payment_id) {
            Some(p) => {
                let mut p = p.clone();
                p.refunded = p.refunded.saturating_add(amount);
                LedgerChange::Payment(payment_id, p)
            }
            None => LedgerChange::None,
        },
        Op::AddHtlc { id, .. } => LedgerChange::HtlcId(by, id),
        Op::SettleHtlc { id, preimage } => match base.htlc(by.other(), id) {
            Some(h) => LedgerChange::Payment(
                h.payment_hash,
                Payment {
                    payer: h.from,
                    amount: h.amount,
                    refunded: 0,
                    preimage: Some(preimage),
                },
            ),
            None => LedgerChange::None,
        },
        _ => LedgerChange::None,
    }
}
