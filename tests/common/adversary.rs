//! An authenticated adversary against the sans-IO core, shared by `tests/adversary.rs` and the
//! `channel` fuzz target (which includes this file with `#[path]`, so it depends on nothing but
//! `l2pay`).
//!
//! The adversary holds the peer's **valid key**. For every proposal it computes what the
//! honest side will compute (`apply` of its op on the honest side's latest state, or on the
//! honest side's pending state when it claims to have agreed it) and signs that state's digest
//! with [`LocalSigner`], so the signature check passes and the deeper code runs. Values it
//! chooses are given relative to the live state ([`Num`], [`Nonce`], [`HtlcRef`], [`Expiry`]),
//! so "the balance + 1", "the pending nonce" or "`u64::MAX` − 1" are as easy to reach as any
//! fixed number.
//!
//! An [`Observer`] drains the honest channel's outputs (every write durable at once) and checks
//! after every input: the balance invariant; agreed nonces strictly increase; the honest side
//! never signs two different states at one nonce, and never releases a signature before the
//! write that covers its nonce; every agreed state is exactly `apply` of the agreed op on the
//! previous one (no value moves except as the signed ops say), and an op the peer is credited
//! with was signed by the peer; a refused input leaves the durable record unchanged.
//! [`Duel::check_live`] then hands the channel to an honest peer (same key, restored from what
//! the honest side holds) and requires a new op of the honest side to be agreed, unless the
//! channel legitimately went to chain or was closed.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use l2pay::channel::{Channel, ChannelSnapshot, Event, Output};
use l2pay::error::UpdateError;
use l2pay::ledger::{Ledger, LedgerChange, Payment};
use l2pay::op::{apply, payment_hash, Context, Op, Policy};
use l2pay::signer::{LocalSigner, Signature, Signer};
use l2pay::state::{ChannelParams, ChannelState, Side};
use l2pay::wire::{Accept, Message, Propose, Reestablish, Reject, RejectReason};
use l2pay::Amount;
use l2pay::{Address, B256};

/// Virtual time at the start (ms).
pub const T0: u64 = 1_700_000_000_000;
/// The payment id the liveness check pays with (never in the adversary's pool).
const LIVE_ID: B256 = B256::repeat_byte(0xee);

pub fn key(seed: u8) -> Arc<LocalSigner> {
    Arc::new(LocalSigner::from_bytes(&[seed; 32]).expect("a valid test key"))
}

pub fn channel_params(a: Address, b: Address, token: Address, salt: u8) -> ChannelParams {
    ChannelParams {
        chain_id: 31337,
        adjudicator: Address::repeat_byte(0xad),
        participants: [a, b],
        token,
        challenge_period: 3_600,
        salt: B256::repeat_byte(salt),
    }
}

/// The pool preimages, payment hashes and payment ids are drawn from (4 each), so that
/// duplicates, refunds of unknown payments and right or wrong preimages all come up often.
pub fn preimage(i: u8) -> B256 {
    B256::repeat_byte(0x50 + i % 4)
}

pub fn hash(i: u8) -> B256 {
    payment_hash(&preimage(i))
}

pub fn payment_id(i: u8) -> B256 {
    B256::repeat_byte(0x90 + i % 4)
}

/// An amount, possibly relative to the live balances.
#[derive(Clone, Copy, Debug)]
pub enum Num {
    Exact(u128),
    /// The actor's spendable balance plus `d`.
    Mine(i8),
    /// The other side's spendable balance plus `d`.
    Theirs(i8),
    /// `u128::MAX - k`.
    FromTop(u8),
}

/// A nonce, possibly relative to the honest side's state.
#[derive(Clone, Copy, Debug)]
pub enum Nonce {
    /// The agreed nonce plus `k`.
    Latest(u8),
    /// The honest side's highest signed nonce plus `k`.
    AboveSigned(u8),
    /// The honest side's pending nonce (the agreed nonce + 1 without one).
    Pending,
    /// `u64::MAX - k`.
    FromTop(u8),
    Exact(u64),
}

/// An HTLC id.
#[derive(Clone, Copy, Debug)]
pub enum HtlcRef {
    /// The actor's next unused id.
    Next,
    /// The id of the `k`-th pending HTLC of the actor (its own).
    Own(u8),
    /// The id of the `k`-th pending HTLC of the other side.
    Theirs(u8),
    /// `u64::MAX - k`.
    FromTop(u8),
    Exact(u64),
}

/// An HTLC expiry (unix seconds).
#[derive(Clone, Copy, Debug)]
pub enum Expiry {
    /// Seconds from now.
    In(i32),
    /// `u64::MAX - k`.
    FromTop(u8),
    Exact(u64),
}

/// An op, with its values resolved when it is used.
#[derive(Clone, Copy, Debug)]
pub enum OpSpec {
    Pay {
        id: u8,
        amount: Num,
    },
    Refund {
        id: u8,
        amount: Num,
    },
    AddHtlc {
        id: HtlcRef,
        amount: Num,
        hash: u8,
        expiry: Expiry,
    },
    Settle {
        id: HtlcRef,
        preimage: u8,
    },
    Fail {
        id: HtlcRef,
    },
    Expire {
        id: HtlcRef,
    },
    /// A deposit total for the actor's side (`mine`) or the other side.
    Deposit {
        mine: bool,
        total: Num,
    },
    Withdraw {
        amount: Num,
    },
    Close,
}

/// Which state a proposal claims to build on.
#[derive(Clone, Copy, Debug)]
pub enum Base {
    Latest,
    /// The honest side's pending proposal (the adversary claims to have agreed it).
    Pending,
    Exact(Nonce),
}

/// What a signature signs.
#[derive(Clone, Copy, Debug)]
pub enum Sig {
    /// The state the honest side will compute.
    Valid,
    /// That state with one unit moved from the honest side to the adversary.
    Steal,
    /// No signature (where one is optional).
    Absent,
}

/// One input to an honest channel.
#[derive(Clone, Copy, Debug)]
pub enum Action {
    Propose {
        op: OpSpec,
        nonce: Nonce,
        base: Base,
        sig: Sig,
        base_sig: Sig,
    },
    Accept {
        nonce: Nonce,
        sig: Sig,
    },
    /// Unsigned on the wire: anyone on the connection can send one.
    Reject {
        nonce: Nonce,
        reason: u8,
        highest_signed: Nonce,
    },
    Reestablish {
        nonce: Nonce,
        sig: Sig,
        highest_signed: Nonce,
    },
    /// The `k`-th message the adversary sent before, again.
    Replay(u8),
    /// The honest side proposes an op of its own.
    Honest(OpSpec),
    /// Virtual time passes; the honest side's timer fires.
    Tick(u32),
    Reconnect,
    /// The chain shows a higher deposit total of the honest side or the adversary.
    ChainDeposit {
        adversary: bool,
        add: Num,
    },
}

fn add_i8(v: u128, d: i8) -> u128 {
    if d >= 0 {
        v.saturating_add(d as u128)
    } else {
        v.saturating_sub(d.unsigned_abs() as u128)
    }
}

fn num(n: Num, actor: Side, state: &ChannelState) -> Amount {
    match n {
        Num::Exact(v) => v,
        Num::Mine(d) => add_i8(state.balances[actor.idx()], d),
        Num::Theirs(d) => add_i8(state.balances[actor.other().idx()], d),
        Num::FromTop(k) => u128::MAX - u128::from(k),
    }
}

fn nonce(n: Nonce, ch: &Channel) -> u64 {
    let latest = ch.latest().nonce;
    match n {
        Nonce::Latest(k) => latest.saturating_add(u64::from(k)),
        Nonce::AboveSigned(k) => ch.snapshot().highest_signed.saturating_add(u64::from(k)),
        Nonce::Pending => ch
            .pending()
            .map_or(latest.saturating_add(1), |p| p.state.nonce),
        Nonce::FromTop(k) => u64::MAX - u64::from(k),
        Nonce::Exact(v) => v,
    }
}

fn htlc_id(r: HtlcRef, actor: Side, ch: &Channel) -> u64 {
    let of = |side: Side, k: u8| {
        let mine: Vec<u64> = ch
            .latest()
            .htlcs
            .iter()
            .filter(|h| h.from == side)
            .map(|h| h.id)
            .collect();
        match mine.len() {
            0 => u64::from(k),
            n => mine[usize::from(k) % n],
        }
    };
    match r {
        HtlcRef::Next => ch.ledger().last_htlc_id(actor).saturating_add(1),
        HtlcRef::Own(k) => of(actor, k),
        HtlcRef::Theirs(k) => of(actor.other(), k),
        HtlcRef::FromTop(k) => u64::MAX - u64::from(k),
        HtlcRef::Exact(v) => v,
    }
}

fn expiry(e: Expiry, now: u64) -> u64 {
    match e {
        Expiry::In(s) => {
            let now_s = now / 1_000;
            if s >= 0 {
                now_s.saturating_add(s as u64)
            } else {
                now_s.saturating_sub(u64::from(s.unsigned_abs()))
            }
        }
        Expiry::FromTop(k) => u64::MAX - u64::from(k),
        Expiry::Exact(v) => v,
    }
}

/// The op `spec` describes for `actor` on the honest channel `ch` at `now`.
pub fn resolve(spec: OpSpec, actor: Side, ch: &Channel, now: u64) -> Op {
    let s = ch.latest();
    match spec {
        OpSpec::Pay { id, amount } => Op::Pay {
            payment_id: payment_id(id),
            amount: num(amount, actor, s),
        },
        OpSpec::Refund { id, amount } => Op::Refund {
            payment_id: payment_id(id),
            amount: num(amount, actor, s),
        },
        OpSpec::AddHtlc {
            id,
            amount,
            hash: h,
            expiry: e,
        } => Op::AddHtlc {
            id: htlc_id(id, actor, ch),
            amount: num(amount, actor, s),
            payment_hash: hash(h),
            expiry: expiry(e, now),
        },
        OpSpec::Settle { id, preimage: p } => Op::SettleHtlc {
            id: htlc_id(id, actor, ch),
            preimage: preimage(p),
        },
        OpSpec::Fail { id } => Op::FailHtlc {
            id: htlc_id(id, actor, ch),
        },
        OpSpec::Expire { id } => Op::ExpireHtlc {
            id: htlc_id(id, actor, ch),
        },
        OpSpec::Deposit { mine, total } => {
            let side = if mine { actor } else { actor.other() };
            let total = match total {
                Num::Mine(d) | Num::Theirs(d) => add_i8(s.deposits[side.idx()], d),
                n => num(n, actor, s),
            };
            Op::Deposit { side, total }
        }
        OpSpec::Withdraw { amount } => Op::Withdraw {
            amount: num(amount, actor, s),
        },
        OpSpec::Close => Op::Close,
    }
}

/// `apply` without the clock: each time check is given the time that passes it (an op the
/// honest side validated at its own `now` must also apply here, whenever it is agreed).
pub fn apply_untimed(
    op: &Op,
    by: Side,
    state: &ChannelState,
    ledger: &Ledger,
    ch: &Channel,
) -> Result<(ChannelState, LedgerChange), UpdateError> {
    let now_ms = match op {
        Op::ExpireHtlc { .. } => u64::MAX,
        // A time at which the expiry is within both bounds.
        Op::AddHtlc { expiry, .. } => expiry
            .saturating_sub(ch.snapshot().policy.min_htlc_expiry_delta)
            .saturating_mul(1_000),
        _ => 0,
    };
    let ctx = Context {
        now_ms,
        chain_deposits: ch.snapshot().chain_deposits,
        ledger,
        policy: &ch.snapshot().policy,
    };
    apply(op, by, state, &ctx)
}

/// The peer's key and what it has signed.
pub struct Adversary {
    pub key: Arc<LocalSigner>,
    pub side: Side,
    pub params: ChannelParams,
    /// Every message it sent, for replays.
    pub sent: Vec<Message>,
    /// The ops it signed proposals of, by nonce (it may sign several at one nonce).
    pub signed_ops: HashMap<u64, Vec<Op>>,
}

impl Adversary {
    pub fn new(key: Arc<LocalSigner>, side: Side, params: ChannelParams) -> Self {
        Adversary {
            key,
            side,
            params,
            sent: Vec::new(),
            signed_ops: HashMap::new(),
        }
    }

    pub fn sign(&self, state: &ChannelState) -> Signature {
        self.key.sign_digest(&state.digest(&self.params))
    }

    fn sign_as(&self, state: &ChannelState, how: Sig) -> Option<Signature> {
        match how {
            Sig::Valid => Some(self.sign(state)),
            Sig::Steal => {
                let mut s = state.clone();
                let (me, them) = (self.side.idx(), self.side.other().idx());
                if s.balances[them] > 0 {
                    s.balances[them] -= 1;
                    s.balances[me] = s.balances[me].saturating_add(1);
                } else {
                    s.is_final = !s.is_final;
                }
                Some(self.sign(&s))
            }
            Sig::Absent => None,
        }
    }

    /// The honest side's pending state, and its ledger once that proposal is agreed.
    fn pending_base(&self, ch: &Channel) -> Option<(ChannelState, Ledger)> {
        let p = ch.pending()?;
        let mut ledger = ch.ledger().clone();
        let (_, change) = apply_untimed(&p.op, ch.me(), ch.latest(), ch.ledger(), ch).ok()?;
        ledger.apply(&change);
        Some((p.state.clone(), ledger))
    }

    /// The state `op` of ours produces on `base` at `nonce`, as the honest side computes it at
    /// `now`; for an op invalid there, the base itself at `nonce` (refused before any
    /// signature check anyway).
    fn proposed(
        &self,
        ch: &Channel,
        op: &Op,
        base: &ChannelState,
        ledger: &Ledger,
        nonce: u64,
        now: u64,
    ) -> ChannelState {
        let ctx = Context {
            now_ms: now,
            chain_deposits: ch.snapshot().chain_deposits,
            ledger,
            policy: &ch.snapshot().policy,
        };
        let mut s = apply(op, self.side, base, &ctx).map_or_else(|_| base.clone(), |(s, _)| s);
        s.nonce = nonce;
        s
    }

    /// The message `action` stands for, or `None` for an action that is not a message.
    pub fn message(&mut self, action: &Action, ch: &Channel, now: u64) -> Option<Message> {
        let channel_id = ch.id();
        let msg = match *action {
            Action::Propose {
                op,
                nonce: n,
                base,
                sig,
                base_sig,
            } => {
                let op = resolve(op, self.side, ch, now);
                let nonce = nonce_of(n, ch);
                let pending = self.pending_base(ch);
                let (base_nonce, base_state, ledger) = match (base, pending) {
                    (Base::Pending, Some((s, l))) => (s.nonce, s, l),
                    (Base::Exact(b), _) => {
                        let b = nonce_of(b, ch);
                        let mut s = ch.latest().clone();
                        s.nonce = b;
                        (b, s, ch.ledger().clone())
                    }
                    _ => (ch.latest().nonce, ch.latest().clone(), ch.ledger().clone()),
                };
                let next = self.proposed(ch, &op, &base_state, &ledger, nonce, now);
                self.signed_ops.entry(nonce).or_default().push(op.clone());
                Message::Propose(Propose {
                    channel_id,
                    base_nonce,
                    nonce,
                    op,
                    sig: self.sign_as(&next, sig).unwrap_or(Signature([0; 65])),
                    base_sig: self.sign_as(&base_state, base_sig),
                })
            }
            Action::Accept { nonce: n, sig } => {
                let nonce = nonce_of(n, ch);
                let mut s = ch.pending().map_or(ch.latest(), |p| &p.state).clone();
                s.nonce = nonce;
                Message::Accept(Accept {
                    channel_id,
                    nonce,
                    sig: self.sign_as(&s, sig).unwrap_or(Signature([0; 65])),
                })
            }
            Action::Reject {
                nonce: n,
                reason,
                highest_signed,
            } => Message::Reject(Reject {
                channel_id,
                nonce: nonce_of(n, ch),
                reason: reject_reason(reason),
                highest_signed: nonce_of(highest_signed, ch),
            }),
            Action::Reestablish {
                nonce: n,
                sig,
                highest_signed,
            } => {
                let nonce = nonce_of(n, ch);
                let mut s = ch.pending().map_or(ch.latest(), |p| &p.state).clone();
                s.nonce = nonce;
                Message::Reestablish(Reestablish {
                    channel_id,
                    latest_nonce: nonce,
                    latest_sig: self.sign_as(&s, sig),
                    highest_signed: nonce_of(highest_signed, ch),
                })
            }
            Action::Replay(k) => match self.sent.len() {
                0 => return None,
                n => self.sent[usize::from(k) % n].clone(),
            },
            _ => return None,
        };
        self.sent.push(msg.clone());
        Some(msg)
    }
}

fn nonce_of(n: Nonce, ch: &Channel) -> u64 {
    nonce(n, ch)
}

fn reject_reason(r: u8) -> RejectReason {
    match r % 6 {
        0 => RejectReason::Conflict,
        1 => RejectReason::BadSignature,
        2 => RejectReason::OutOfSync,
        3 => RejectReason::Invalid(UpdateError::DepositNotSeen { total: 1, seen: 0 }),
        4 => RejectReason::Invalid(UpdateError::HtlcNotExpired { expiry: 0 }),
        _ => RejectReason::Invalid(UpdateError::Overflow),
    }
}

/// The signatures a message carries, with the nonces they are claimed for.
fn signatures(m: &Message) -> Vec<(u64, Signature)> {
    match m {
        Message::Propose(p) => {
            let mut v = vec![(p.nonce, p.sig)];
            v.extend(p.base_sig.map(|s| (p.base_nonce, s)));
            v
        }
        Message::Accept(a) => vec![(a.nonce, a.sig)],
        Message::Reestablish(r) => r
            .latest_sig
            .map(|s| (r.latest_nonce, s))
            .into_iter()
            .collect(),
        Message::Reject(_) => vec![],
    }
}

/// Checks one honest channel through everything it outputs.
pub struct Observer {
    pub me: Side,
    /// Every signature the honest side released, by nonce.
    sigs: HashMap<u64, Signature>,
    /// The highest nonce a durable record of the honest side covers.
    durable: u64,
    highest_signed: u64,
    agreed: u64,
    model: ChannelState,
    ledger: Ledger,
    /// Why the honest side went to chain, once it did.
    pub failed: Option<String>,
    pub events: Vec<Event>,
}

impl Observer {
    pub fn new(ch: &Channel) -> Self {
        Observer {
            me: ch.me(),
            sigs: HashMap::new(),
            durable: 0,
            highest_signed: 0,
            agreed: ch.latest().nonce,
            model: ch.latest().clone(),
            ledger: ch.ledger().clone(),
            failed: None,
            events: Vec::new(),
        }
    }

    fn signed(&mut self, nonce: u64, sig: Signature) {
        assert!(
            nonce <= self.durable,
            "signature at nonce {nonce} released before a durable record covers it (durable up to {})",
            self.durable
        );
        if let Some(prev) = self.sigs.insert(nonce, sig) {
            assert_eq!(
                prev, sig,
                "the honest side signed two states at nonce {nonce}"
            );
        }
    }

    /// Drains `ch` (every write durable at once), checking each output; returns the messages
    /// it sends. `peer_ops` are the ops the peer signed, by nonce.
    pub fn drain(&mut self, ch: &mut Channel, peer_ops: &HashMap<u64, Vec<Op>>) -> Vec<Message> {
        let mut msgs = vec![];
        while let Some(o) = ch.poll_output() {
            match o {
                Output::Persist(p) => {
                    let s = &p.snapshot;
                    assert!(
                        s.highest_signed >= self.highest_signed,
                        "highest_signed went back from {} to {}",
                        self.highest_signed,
                        s.highest_signed
                    );
                    self.highest_signed = s.highest_signed;
                    self.durable = self.durable.max(s.highest_signed).max(s.latest.nonce);
                    ch.handle_persisted(p.seq);
                }
                Output::Send(m) => {
                    for (n, s) in signatures(&m) {
                        self.signed(n, s);
                    }
                    msgs.push(m);
                }
                Output::Event(e) => {
                    self.event(&e, ch, peer_ops);
                    self.events.push(e);
                }
            }
        }
        self.check(ch);
        msgs
    }

    fn event(&mut self, e: &Event, ch: &Channel, peer_ops: &HashMap<u64, Vec<Op>>) {
        match e {
            Event::Updated { nonce, op, by, .. } => {
                assert!(
                    *nonce > self.agreed,
                    "agreed nonce went from {} to {nonce}",
                    self.agreed
                );
                self.agreed = *nonce;
                if *by != self.me {
                    assert!(
                        peer_ops.get(nonce).is_some_and(|ops| ops.contains(op)),
                        "{op:?} at nonce {nonce} credited to the peer, which never signed it"
                    );
                }
                let (mut next, change) = apply_untimed(op, *by, &self.model, &self.ledger, ch)
                    .unwrap_or_else(|e| {
                        panic!("agreed {op:?} by {by:?} at {nonce} does not apply: {e}")
                    });
                next.nonce = *nonce;
                self.ledger.apply(&change);
                self.model = next;
            }
            Event::GoToChain { reason } => {
                self.failed.get_or_insert_with(|| reason.clone());
            }
            Event::ProposalRejected { .. } => {}
        }
    }

    fn check(&self, ch: &Channel) {
        let latest = ch.latest();
        assert_eq!(
            latest.check_invariant(),
            Ok(()),
            "balances + locked HTLCs != deposits - withdrawals: {latest:?}"
        );
        assert_eq!(
            &self.model, latest,
            "the agreed state is not the agreed ops applied"
        );
        let got: Vec<(&B256, &Payment)> = ch.ledger().payments().collect();
        let want: Vec<(&B256, &Payment)> = self.ledger.payments().collect();
        assert_eq!(
            got, want,
            "the payment ledger is not the agreed ops applied"
        );
        assert_eq!(
            ch.ledger().last_htlc_id(Side::A),
            self.ledger.last_htlc_id(Side::A)
        );
        assert_eq!(
            ch.ledger().last_htlc_id(Side::B),
            self.ledger.last_htlc_id(Side::B)
        );
    }
}

/// What a refused input must leave alone: the durable record.
pub fn skip(check: &str) -> bool {
    std::env::var("ADVERSARY_SKIP").is_ok_and(|v| v.split(',').any(|c| c == check))
}

fn record(ch: &Channel) -> ChannelSnapshot {
    ch.snapshot().clone()
}

/// Whether `ch` adopted the proposal that was pending in `before`.
fn caught_up(before: &ChannelSnapshot, ch: &Channel) -> bool {
    before
        .pending
        .as_ref()
        .is_some_and(|p| &p.state == ch.latest() && ch.pending().is_none())
}

/// Applies one action to an honest channel. Messages the honest side answers with are
/// returned (they go to the adversary, who reads the honest side's state directly).
pub fn act(
    ch: &mut Channel,
    obs: &mut Observer,
    adv: &mut Adversary,
    action: &Action,
    now: &mut u64,
) -> Vec<Message> {
    match *action {
        Action::Honest(spec) => {
            let op = resolve(spec, ch.me(), ch, *now);
            let _ = ch.propose(op, *now);
        }
        Action::Tick(ms) => {
            *now = now.saturating_add(u64::from(ms));
            ch.handle_timeout(*now);
        }
        Action::Reconnect => {
            ch.handle_disconnected();
            ch.handle_connected(*now);
        }
        Action::ChainDeposit { adversary, add } => {
            let side = if adversary { adv.side } else { ch.me() };
            let seen = ch.snapshot().chain_deposits[side.idx()];
            let total = seen.saturating_add(num(add, side, ch.latest()));
            ch.handle_chain_deposit(side, total, *now);
        }
        _ => {
            if let Some(msg) = adv.message(action, ch, *now) {
                let before = record(ch);
                match ch.handle_message(msg.clone(), *now) {
                    // Catching up on our own proposal that the peer proved it signed (the
                    // proposal's base, or a `Reestablish`) is progress, not a change.
                    Err(e)
                        if !e.requires_chain() && !caught_up(&before, ch) && !skip("refused") =>
                    {
                        assert!(
                            record(ch) == before,
                            "{msg:?} was refused ({e}) but changed the channel: pending {:?} -> {:?}",
                            before.pending.as_ref().map(|p| (&p.op, p.state.nonce)),
                            ch.pending().map(|p| (&p.op, p.state.nonce)),
                        )
                    }
                    _ => {}
                }
            }
        }
    }
    obs.drain(ch, &adv.signed_ops)
}

/// An honest channel against the adversary, nothing else.
pub struct Duel {
    pub ch: Channel,
    pub obs: Observer,
    pub adv: Adversary,
    pub now: u64,
}

impl Duel {
    /// The honest side is `honest`; `deposits` are `[honest, adversary]`, recognised through
    /// the protocol (the adversary countersigns and proposes like an honest peer here).
    pub fn new(honest: Side, deposits: [Amount; 2]) -> Duel {
        let (kh, ka) = (key(1), key(2));
        let (a, b) = match honest {
            Side::A => (kh.address(), ka.address()),
            Side::B => (ka.address(), kh.address()),
        };
        let params = channel_params(a, b, Address::ZERO, 7);
        let ch = Channel::new(params.clone(), honest, kh, Policy::default());
        let obs = Observer::new(&ch);
        let adv = Adversary::new(ka, honest.other(), params);
        let mut d = Duel {
            ch,
            obs,
            adv,
            now: T0,
        };
        d.step(&Action::Reconnect);
        let accept = Action::Accept {
            nonce: Nonce::Pending,
            sig: Sig::Valid,
        };
        if deposits[0] > 0 {
            d.step(&Action::ChainDeposit {
                adversary: false,
                add: Num::Exact(deposits[0]),
            });
            d.step(&accept);
        }
        if deposits[1] > 0 {
            d.step(&Action::ChainDeposit {
                adversary: true,
                add: Num::Exact(deposits[1]),
            });
            d.step(&Action::Propose {
                op: OpSpec::Deposit {
                    mine: true,
                    total: Num::Exact(deposits[1]),
                },
                nonce: Nonce::Latest(1),
                base: Base::Latest,
                sig: Sig::Valid,
                base_sig: Sig::Valid,
            });
        }
        d
    }

    pub fn step(&mut self, action: &Action) -> Vec<Message> {
        act(
            &mut self.ch,
            &mut self.obs,
            &mut self.adv,
            action,
            &mut self.now,
        )
    }

    /// After the attack: an honest peer with the adversary's key, restored from what the
    /// honest side holds, gets a new op of the honest side agreed (a payment of 1, or the
    /// recognition of a further deposit of 1), unless the channel went to chain or is closed.
    pub fn check_live(&mut self) {
        if self.obs.failed.is_some() || self.ch.failure().is_some() || self.ch.latest().is_final {
            return;
        }
        let mut peer = honest_peer(&mut self.ch, &self.adv);
        let me = self.ch.me();
        self.ch.handle_disconnected();
        self.ch.handle_connected(self.now);
        peer.handle_connected(self.now);
        self.pump(&mut peer, 30);
        if self.obs.failed.is_some() || self.ch.latest().is_final {
            return;
        }
        let op = if self.ch.latest().balances[me.idx()] > 0 {
            Op::Pay {
                payment_id: LIVE_ID,
                amount: 1,
            }
        } else {
            // Nothing to pay with: a further deposit of 1, where the totals leave room for it
            // (deposits whose sum exceeds `u128::MAX` cannot be recognised).
            let d = self.ch.latest().deposits;
            let chain = self.ch.snapshot().chain_deposits[me.idx()];
            let Some(total) = chain
                .checked_add(1)
                .filter(|t| d[me.other().idx()].checked_add(*t).is_some())
            else {
                return;
            };
            peer.handle_chain_deposit(me, total, self.now);
            Op::Deposit { side: me, total }
        };
        let from = self.obs.events.len();
        match op {
            Op::Deposit { total, .. } => self.ch.handle_chain_deposit(me, total, self.now),
            _ => self
                .ch
                .propose(op.clone(), self.now)
                .unwrap_or_else(|e| panic!("the honest side cannot propose {op:?}: {e}")),
        }
        self.pump(&mut peer, 30);
        let agreed = self.obs.events[from..]
            .iter()
            .any(|e| matches!(e, Event::Updated { op: o, by, .. } if *o == op && *by == me));
        assert!(
            agreed
                || self
                    .obs
                    .failed
                    .as_deref()
                    .is_some_and(|r| r.starts_with("HTLC")),
            "the honest side could not get {op:?} agreed with an honest peer (failed: {:?}, \
             events: {:?})",
            self.obs.failed,
            &self.obs.events[from..]
        );
    }

    /// Delivers between the honest side and `peer`, with time passing, for `rounds` rounds.
    fn pump(&mut self, peer: &mut Channel, rounds: usize) {
        let mut peer_events = vec![];
        let mut to_peer = vec![];
        for _ in 0..rounds {
            for m in peer_messages(peer, &mut peer_events) {
                if let Message::Propose(p) = &m {
                    let ops = self.adv.signed_ops.entry(p.nonce).or_default();
                    ops.push(p.op.clone());
                }
                let _ = self.ch.handle_message(m, self.now);
            }
            to_peer.extend(self.obs.drain(&mut self.ch, &self.adv.signed_ops));
            for m in to_peer.drain(..) {
                let _ = peer.handle_message(m, self.now);
            }
            self.now += 1_000;
            self.ch.handle_timeout(self.now);
            peer.handle_timeout(self.now);
            to_peer = self.obs.drain(&mut self.ch, &self.adv.signed_ops);
        }
    }
}

/// An honest channel end for the adversary's side, with the adversary's key, restored from the
/// agreed state the honest side holds (what an honest peer that lost nothing would hold).
pub fn honest_peer(ch: &mut Channel, adv: &Adversary) -> Channel {
    let me = ch.me();
    let sig = ch.signed_latest().map(|(_, s)| s[me.idx()]);
    let snap = ChannelSnapshot {
        params: ch.params().clone(),
        me: me.other(),
        policy: ch.snapshot().policy.clone(),
        latest: ch.latest().clone(),
        latest_peer_sig: sig,
        pending: None,
        highest_signed: ch.latest().nonce,
        chain_deposits: ch.snapshot().chain_deposits,
        last_htlc_id: [
            ch.ledger().last_htlc_id(Side::A),
            ch.ledger().last_htlc_id(Side::B),
        ],
    };
    let payments = ch
        .ledger()
        .payments()
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    Channel::restore(snap, payments, adv.key.clone())
}

fn peer_messages(peer: &mut Channel, events: &mut Vec<Event>) -> Vec<Message> {
    let mut msgs = vec![];
    while let Some(o) = peer.poll_output() {
        match o {
            Output::Persist(p) => peer.handle_persisted(p.seq),
            Output::Send(m) => msgs.push(m),
            Output::Event(e) => events.push(e),
        }
    }
    msgs
}
