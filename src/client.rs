//! The client side of a hub session as a sans-IO state machine: what the browser SDK (and any
//! other wallet) runs. It owns the wallet's channels with one hub, answers the hub's
//! challenge, registers channels, pays invoices with HTLCs and turns channel events into
//! wallet events (payment settled or failed, refund received).
//!
//! Like [`Channel`], it does no I/O: the driver feeds it frames, chain observations and the
//! time, and drains [`ClientOutput`]s — frames to send (already gated on durability by the
//! channel core), records to persist (confirm with [`ClientCore::handle_persisted`]) and events.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use alloy_primitives::{Address, B256};
use serde::Serialize;

use crate::channel::{ChannelSnapshot, Event, Output};
use crate::error::Error;
use crate::invoice::Invoice;
use crate::ledger::Payment;
use crate::op::{Op, Policy};
use crate::router::RoutingPolicy;
use crate::session::{answer_challenge, Frame, HubTerms, SyncState};
use crate::signer::{LocalSigner, Signer};
use crate::state::{ChannelParams, Side};
use crate::wire::{encode_frame, RejectReason};
use crate::{Amount, Channel};

/// The hub this client talks to, as its challenge and welcome described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubInfo {
    pub hub: Address,
    pub chain_id: u64,
    pub adjudicator: Address,
    pub policy: Policy,
    pub routing: RoutingPolicy,
    /// What the hub accepts in a new channel.
    pub terms: HubTerms,
    /// Channels the hub holds with this client.
    pub channels: Vec<ChannelParams>,
}

/// What the wallet reports to its owner. Serialises (for JavaScript) as
/// `{ type: "paymentSettled", channelId, … }`, amounts as decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ClientEvent {
    /// Authenticated with the hub.
    Welcome(Box<HubInfo>),
    /// The hub drives its end of this channel.
    Registered { channel_id: B256 },
    /// The hub refused something.
    HubError { code: String, message: String },
    /// An update was agreed.
    Updated {
        channel_id: B256,
        nonce: u64,
        op: Op,
        by: Side,
    },
    /// Our HTLC was settled by the hub: the merchant has been paid.
    PaymentSettled {
        channel_id: B256,
        payment_hash: B256,
        preimage: B256,
        #[serde(with = "crate::serde_util::amount")]
        amount: Amount,
    },
    /// Our HTLC came back (failed or expired) or was refused: nothing was paid.
    PaymentFailed {
        channel_id: B256,
        payment_hash: B256,
        reason: String,
    },
    /// The hub passed back (part of) a payment.
    Refunded {
        channel_id: B256,
        payment_id: B256,
        #[serde(with = "crate::serde_util::amount")]
        amount: Amount,
    },
    /// A channel was recovered from the hub's countersigned state (see
    /// [`ClientCore::set_resync`]).
    Restored { channel_id: B256, nonce: u64 },
    /// One of our proposals (not a payment) was refused.
    ProposalRejected {
        channel_id: B256,
        op: Op,
        reason: String,
    },
    /// The off-chain protocol can no longer protect this channel: close it on chain.
    GoToChain { channel_id: B256, reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOutput {
    /// An encoded session frame for the hub.
    Send(Vec<u8>),
    /// Write durably, then call [`ClientCore::handle_persisted`] with `seq`.
    Persist {
        channel_id: B256,
        seq: u64,
        snapshot: Box<ChannelSnapshot>,
        payment: Option<(B256, Payment)>,
    },
    Event(ClientEvent),
}

/// The HTLC that pays an invoice, as [`ClientCore::pay`] proposed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentStarted {
    pub payment_hash: B256,
    /// What leaves the channel (the invoice amount plus the hub's fee).
    pub amount: Amount,
    pub fee: Amount,
    pub expiry: u64,
    pub htlc_id: u64,
}

pub struct ClientCore {
    signer: Arc<LocalSigner>,
    hub: Option<HubInfo>,
    channels: BTreeMap<B256, Channel>,
    out: VecDeque<ClientOutput>,
    /// On the next welcome, fetch every channel's latest state from the hub first.
    resync: bool,
    /// Channels whose `SyncState` has not arrived yet.
    awaiting_sync: BTreeSet<B256>,
    /// The latest `now` an input carried: the time of proposals the core makes on its own
    /// (failing an HTLC nobody asked for) during inputs that carry none.
    now: u64,
}

impl ClientCore {
    pub fn new(signer: Arc<LocalSigner>) -> Self {
        ClientCore {
            signer,
            hub: None,
            channels: BTreeMap::new(),
            out: VecDeque::new(),
            resync: false,
            awaiting_sync: BTreeSet::new(),
            now: 0,
        }
    }

    /// After a restore from an old backup (or from the key alone) our channel states may be
    /// behind the hub's: on the next welcome, ask the hub for its latest countersigned state
    /// of every channel it holds with us before resuming any of them. Resuming a stale state
    /// directly would look like a desync to both ends.
    pub fn set_resync(&mut self, on: bool) {
        self.resync = on;
    }

    /// True until every channel the hub listed has been synced.
    pub fn resyncing(&self) -> bool {
        self.resync
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The hub as last welcomed (None before the first authentication).
    pub fn hub(&self) -> Option<&HubInfo> {
        self.hub.as_ref()
    }

    pub fn channel(&self, id: &B256) -> Option<&Channel> {
        self.channels.get(id)
    }

    pub fn channel_mut(&mut self, id: &B256) -> Option<&mut Channel> {
        self.channels.get_mut(id)
    }

    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        self.channels.values()
    }

    /// Resumes a channel from its durable snapshot and payment records.
    pub fn restore(&mut self, snapshot: ChannelSnapshot, payments: Vec<(B256, Payment)>) {
        let ch = Channel::restore(snapshot, payments, self.signer.clone());
        self.channels.insert(ch.id(), ch);
    }

    /// The parameters of a new channel with the welcomed hub.
    pub fn channel_params(
        &self,
        token: Address,
        challenge_period: u64,
        salt: B256,
    ) -> Result<ChannelParams, Error> {
        let hub = self.hub.as_ref().ok_or(Error::NotConnected)?;
        Ok(ChannelParams {
            chain_id: hub.chain_id,
            adjudicator: hub.adjudicator,
            participants: [self.address(), hub.hub],
            token,
            challenge_period,
            salt,
        })
    }

    /// Starts tracking a channel we (participant A) open on chain. Its first snapshot comes
    /// out as a `Persist`: store it before sending the funding transaction, so that a crash
    /// mid-funding does not lose track of the money.
    pub fn create_channel(&mut self, params: ChannelParams) -> Result<B256, Error> {
        let hub = self.hub.as_ref().ok_or(Error::NotConnected)?;
        if params.participants != [self.address(), hub.hub] {
            return Err(Error::Decode(
                "a wallet channel is between this key (A) and the hub (B)".into(),
            ));
        }
        params.validate().map_err(Error::Refused)?;
        if params.challenge_period < hub.terms.min_challenge_period {
            return Err(Error::Refused(format!(
                "the hub requires a challenge period of at least {} s",
                hub.terms.min_challenge_period
            )));
        }
        if !hub.terms.tokens.contains(&params.token) {
            return Err(Error::Refused(format!(
                "the hub does not serve token {}",
                params.token
            )));
        }
        let id = params.channel_id();
        if !self.channels.contains_key(&id) {
            let ch = Channel::new(params, Side::A, self.signer.clone(), hub.policy.clone());
            self.channels.insert(id, ch);
        }
        self.drain(id);
        Ok(id)
    }

    /// Drops a channel that never held money (its funding transaction failed). Refused
    /// (false) once anything was deposited or agreed.
    pub fn forget(&mut self, id: B256) -> bool {
        let unused = self.channels.get(&id).is_some_and(|c| {
            c.latest().nonce == 0 && c.snapshot().chain_deposits == [0, 0] && c.is_idle()
        });
        if unused {
            self.channels.remove(&id);
        }
        unused
    }

    /// Asks the hub to drive its end of a channel (after the opening transaction was mined).
    pub fn register(&mut self, id: B256, now: u64) -> Result<(), Error> {
        self.now = self.now.max(now);
        let ch = self
            .channels
            .get_mut(&id)
            .ok_or(Error::UnknownChannel(id))?;
        let params = ch.params().clone();
        ch.handle_connected(now);
        self.send(&Frame::Register { params });
        self.drain(id);
        Ok(())
    }

    /// A frame from the hub.
    pub fn handle_frame(&mut self, bytes: &[u8], now: u64) -> Result<(), Error> {
        self.now = self.now.max(now);
        let frame: Frame = crate::wire::decode_frame(bytes)?;
        match frame {
            Frame::Challenge {
                hub,
                chain_id,
                adjudicator,
                challenge,
            } => {
                let auth = answer_challenge(self.signer.as_ref(), chain_id, hub, challenge);
                self.send(&auth);
                let known = self.hub.take();
                self.hub = Some(HubInfo {
                    hub,
                    chain_id,
                    adjudicator,
                    policy: known.as_ref().map(|h| h.policy.clone()).unwrap_or_default(),
                    routing: known
                        .as_ref()
                        .map(|h| h.routing.clone())
                        .unwrap_or_default(),
                    terms: known.map(|h| h.terms).unwrap_or_default(),
                    channels: vec![],
                });
            }
            Frame::Welcome {
                channels,
                policy,
                routing,
                terms,
            } => {
                let hub = self.hub.as_mut().ok_or(Error::NotConnected)?;
                hub.policy = policy;
                hub.routing = routing;
                hub.terms = terms;
                hub.channels = channels;
                let info = hub.clone();
                self.event(ClientEvent::Welcome(Box::new(info.clone())));
                if self.resync {
                    self.awaiting_sync = info.channels.iter().map(|p| p.channel_id()).collect();
                    self.resync = !self.awaiting_sync.is_empty();
                    for id in self.awaiting_sync.clone() {
                        self.send(&Frame::Sync { channel_id: id });
                    }
                    return Ok(());
                }
                let ids: Vec<B256> = self.channels.keys().copied().collect();
                for id in ids {
                    let ch = self.channels.get_mut(&id).expect("listed");
                    if ch.failure().is_some() {
                        continue;
                    }
                    let params = ch.params().clone();
                    ch.handle_disconnected();
                    ch.handle_connected(now);
                    self.send(&Frame::Register { params });
                    self.drain(id);
                }
            }
            Frame::Registered { channel_id } => {
                self.event(ClientEvent::Registered { channel_id });
            }
            Frame::Error { code, message } => {
                self.event(ClientEvent::HubError { code, message });
            }
            Frame::Channel(msg) => {
                let id = msg.channel_id();
                let ch = self
                    .channels
                    .get_mut(&id)
                    .ok_or(Error::UnknownChannel(id))?;
                let r = ch.handle_message(msg, now);
                self.drain(id);
                r?;
            }
            Frame::SyncState(sync) => self.adopt_sync(*sync, now)?,
            Frame::Auth { .. } | Frame::Register { .. } | Frame::Sync { .. } => {
                return Err(Error::Decode("a hub does not send this frame".into()))
            }
        }
        Ok(())
    }

    /// The connection dropped.
    pub fn handle_disconnected(&mut self) {
        for ch in self.channels.values_mut() {
            ch.handle_disconnected();
        }
    }

    /// The chain shows `total` deposited on `side` of a channel.
    pub fn handle_chain_deposit(&mut self, id: B256, side: Side, total: Amount, now: u64) {
        self.now = self.now.max(now);
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.handle_chain_deposit(side, total, now);
            self.drain(id);
        }
    }

    /// The chain shows the channel closing: freeze it.
    pub fn handle_chain_closing(&mut self, id: B256) {
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.handle_chain_closing();
            self.drain(id);
        }
    }

    pub fn handle_persisted(&mut self, id: B256, seq: u64) {
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.handle_persisted(seq);
            self.drain(id);
        }
    }

    pub fn handle_timeout(&mut self, now: u64) {
        self.now = self.now.max(now);
        let due: Vec<B256> = self
            .channels
            .iter()
            .filter(|(_, c)| c.poll_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.channels
                .get_mut(&id)
                .expect("listed")
                .handle_timeout(now);
            self.drain(id);
        }
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.channels
            .values()
            .filter_map(Channel::poll_timeout)
            .min()
    }

    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        self.out.pop_front()
    }

    /// Proposes an op of ours (withdraw, close…) on a channel.
    pub fn propose(&mut self, id: B256, op: Op, now: u64) -> Result<(), Error> {
        self.now = self.now.max(now);
        let ch = self
            .channels
            .get_mut(&id)
            .ok_or(Error::UnknownChannel(id))?;
        let r = ch.propose(op, now);
        self.drain(id);
        r
    }

    /// Pays an invoice through the hub with an HTLC on channel `id`. The result arrives as
    /// [`ClientEvent::PaymentSettled`] (with the preimage) or [`ClientEvent::PaymentFailed`].
    pub fn pay(&mut self, id: B256, invoice: &Invoice, now: u64) -> Result<PaymentStarted, Error> {
        let hub = self.hub.as_ref().ok_or(Error::NotConnected)?;
        invoice
            .check_expiry(now)
            .map_err(|e| Error::Invoice(e.to_string()))?;
        let ch = self.channels.get(&id).ok_or(Error::UnknownChannel(id))?;
        let req = &invoice.request;
        if req.chain_id != ch.params().chain_id || req.token != ch.params().token {
            return Err(Error::Invoice(
                "the invoice asks for another chain or token than this channel holds".into(),
            ));
        }
        // One payment per invoice: a hash this wallet already paid, or is paying, is refused
        // before anything is signed (the caller reads the existing payment instead).
        let hash = req.payment_hash;
        if ch
            .ledger()
            .payment(&hash)
            .is_some_and(|p| p.payer == ch.me())
        {
            return Err(Error::AlreadyPaid(hash));
        }
        let in_flight = ch
            .latest()
            .htlcs
            .iter()
            .any(|h| h.payment_hash == hash && h.from == ch.me())
            || ch.queued_htlc(&hash)
            || ch.pending().is_some_and(
                |p| matches!(p.op, Op::AddHtlc { payment_hash, .. } if payment_hash == hash),
            );
        if in_flight {
            return Err(Error::PaymentInFlight(hash));
        }
        let amount = hub.routing.amount_to_send(req.amount).ok_or_else(|| {
            Error::Invoice("the amount with the hub's fee does not fit an amount".into())
        })?;
        // Long enough for the hub's forward to meet the merchant's minimum, plus a margin.
        let expiry = (now / 1_000)
            .saturating_add(hub.policy.min_htlc_expiry_delta)
            .saturating_add(hub.routing.expiry_delta)
            .saturating_add(hub.policy.chain_margin);
        let htlc_id = ch.next_htlc_id();
        let op = Op::AddHtlc {
            id: htlc_id,
            amount,
            payment_hash: req.payment_hash,
            expiry,
        };
        self.propose(id, op, now)?;
        Ok(PaymentStarted {
            payment_hash: req.payment_hash,
            amount,
            fee: amount.saturating_sub(req.amount),
            expiry,
            htlc_id,
        })
    }

    /// Adopts the hub's countersigned state of a channel after checking that both ends
    /// signed it, unless what we hold is newer; then resumes the channel.
    fn adopt_sync(&mut self, sync: SyncState, now: u64) -> Result<(), Error> {
        let hub = self.hub.as_ref().ok_or(Error::NotConnected)?;
        let me = self.signer.address();
        let params = sync.params;
        if params.participants != [me, hub.hub] {
            return Err(Error::Decode(
                "synced channel is not ours with this hub".into(),
            ));
        }
        sync.state.check_invariant()?;
        let id = params.channel_id();
        let digest = sync.state.digest(&params);
        let peer_sig = match sync.sigs {
            Some([a, b]) => {
                a.verify(&digest, me)?;
                b.verify(&digest, hub.hub)?;
                Some(b)
            }
            None if sync.state.nonce == 0 => None,
            None => return Err(Error::Decode("a synced state needs both signatures".into())),
        };
        let ours = self.channels.get(&id).map(|c| c.latest().nonce);
        if ours.is_none_or(|n| n < sync.state.nonce) {
            let nonce = sync.state.nonce;
            let snapshot = ChannelSnapshot {
                params,
                me: Side::A,
                policy: hub.policy.clone(),
                // We may have signed one proposal beyond the agreed state before losing it:
                // never sign that nonce again.
                highest_signed: nonce + 1,
                latest: sync.state,
                latest_peer_sig: peer_sig,
                pending: None,
                chain_deposits: sync.chain_deposits,
                last_htlc_id: sync.last_htlc_id,
            };
            for (pid, p) in &sync.payments {
                self.out.push_back(ClientOutput::Persist {
                    channel_id: id,
                    seq: 0,
                    snapshot: Box::new(snapshot.clone()),
                    payment: Some((*pid, p.clone())),
                });
            }
            self.out.push_back(ClientOutput::Persist {
                channel_id: id,
                seq: 0,
                snapshot: Box::new(snapshot.clone()),
                payment: None,
            });
            self.restore(snapshot, sync.payments);
            self.event(ClientEvent::Restored {
                channel_id: id,
                nonce,
            });
        }
        self.awaiting_sync.remove(&id);
        if self.awaiting_sync.is_empty() {
            self.resync = false;
        }
        self.register(id, now)
    }

    fn send(&mut self, frame: &Frame) {
        match encode_frame(frame) {
            Ok(bytes) => self.out.push_back(ClientOutput::Send(bytes)),
            Err(e) => debug_assert!(false, "own frame does not encode: {e}"),
        }
    }

    fn event(&mut self, e: ClientEvent) {
        self.out.push_back(ClientOutput::Event(e));
    }

    /// Moves a channel's outputs into ours, reacting to its events.
    fn drain(&mut self, id: B256) {
        let mut again = true;
        while again {
            again = false;
            let Some(ch) = self.channels.get_mut(&id) else {
                return;
            };
            let mut events = vec![];
            while let Some(o) = ch.poll_output() {
                match o {
                    Output::Persist(p) => self.out.push_back(ClientOutput::Persist {
                        channel_id: id,
                        seq: p.seq,
                        snapshot: Box::new(p.snapshot),
                        payment: p.payment,
                    }),
                    Output::Send(m) => {
                        if let Ok(bytes) = encode_frame(&Frame::Channel(m)) {
                            self.out.push_back(ClientOutput::Send(bytes));
                        }
                    }
                    Output::Event(e) => events.push(e),
                }
            }
            for e in events {
                again |= self.on_channel_event(id, e);
            }
        }
    }

    /// Turns a channel event into wallet events; true when it proposed something.
    fn on_channel_event(&mut self, id: B256, e: Event) -> bool {
        let mut proposed = false;
        match &e {
            Event::Updated {
                op: Op::AddHtlc { id: hid, .. },
                by: Side::B,
                ..
            } => {
                // A wallet issues no invoices: give back anything the hub locks for us.
                if let Some(ch) = self.channels.get_mut(&id) {
                    proposed = ch.propose(Op::FailHtlc { id: *hid }, self.now).is_ok();
                }
            }
            Event::Updated {
                op: Op::SettleHtlc { preimage, .. },
                by: Side::B,
                resolved: Some(h),
                ..
            } => self.event(ClientEvent::PaymentSettled {
                channel_id: id,
                payment_hash: h.payment_hash,
                preimage: *preimage,
                amount: h.amount,
            }),
            Event::Updated {
                op: Op::FailHtlc { .. } | Op::ExpireHtlc { .. },
                resolved: Some(h),
                ..
            } if h.from == Side::A => self.event(ClientEvent::PaymentFailed {
                channel_id: id,
                payment_hash: h.payment_hash,
                reason: "the payment did not reach the merchant".into(),
            }),
            Event::Updated {
                op: Op::Refund { payment_id, amount },
                by: Side::B,
                ..
            } => self.event(ClientEvent::Refunded {
                channel_id: id,
                payment_id: *payment_id,
                amount: *amount,
            }),
            Event::ProposalRejected { op, reason } => {
                let reason = reject_text(reason);
                match op {
                    Op::AddHtlc { payment_hash, .. } => self.event(ClientEvent::PaymentFailed {
                        channel_id: id,
                        payment_hash: *payment_hash,
                        reason,
                    }),
                    _ => self.event(ClientEvent::ProposalRejected {
                        channel_id: id,
                        op: op.clone(),
                        reason,
                    }),
                }
            }
            Event::GoToChain { reason } => self.event(ClientEvent::GoToChain {
                channel_id: id,
                reason: reason.clone(),
            }),
            Event::Updated { .. } => {}
        }
        if let Event::Updated { nonce, op, by, .. } = e {
            self.event(ClientEvent::Updated {
                channel_id: id,
                nonce,
                op,
                by,
            });
        }
        proposed
    }
}

fn reject_text(r: &RejectReason) -> String {
    match r {
        RejectReason::Conflict => "a concurrent update won; retry".into(),
        RejectReason::Invalid(e) => e.to_string(),
        RejectReason::BadSignature => "the hub could not verify our signature".into(),
        RejectReason::OutOfSync => "the channel was out of sync; it resynchronises".into(),
    }
}
