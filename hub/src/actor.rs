//! The hub's driver: one task that owns every channel core and the router, feeds them inputs
//! from connections, the chain watcher and timers, and executes their outputs. It never blocks
//! on I/O: writes go to the group committer in the background and come back as
//! [`Command::Persisted`], which releases the messages that waited for them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256};
use l2pay::channel::{Channel, Event, Output};
use l2pay::error::UpdateError;
use l2pay::op::{Op, Policy};
use l2pay::router::{known_preimage, Channels, Route, Router, RouterLimits, RoutingPolicy};
use l2pay::session::{Frame, HubTerms, SyncState};
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::{ChannelParams, Side};
use l2pay::wire::{Message, Reject, RejectReason};
use l2pay::{Amount, Error};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::admission::{points, Admission, AdmissionLimits, LogLimiter};
use crate::metrics::Metrics;
use crate::store::{GroupCommit, InvoiceRecord, StoredChannel, Write};

/// Error code sent on a connection that a newer one with the same key replaced.
pub const REPLACED: &str = "REPLACED";
/// Error code sent to a key barred for misbehaviour; the connection is closed after it.
pub const BANNED: &str = "BANNED";

/// Error codes after which the hub closes the connection.
pub fn closes_connection(code: &str) -> bool {
    code == REPLACED || code == BANNED
}

/// Metadata key of the channels the hub must close on chain (a JSON map of channel id to
/// reason), written with the channel writes; the watcher reads it back after a restart.
pub const GO_TO_CHAIN: &str = "hub.go_to_chain";

/// Fixed settings of a running hub.
#[derive(Clone, Debug)]
pub struct HubSettings {
    pub chain_id: u64,
    pub adjudicator: Address,
    pub policy: Policy,
    pub routing: RoutingPolicy,
    /// Shortest challenge period (seconds) the hub accepts on a channel.
    pub min_challenge_period: u64,
    pub max_channels_per_client: usize,
    /// Tokens the hub holds channels in (the zero address is the native coin).
    pub tokens: Vec<Address>,
    pub limits: HubLimits,
}

impl HubSettings {
    /// Refuses settings under which honest payments could not work.
    pub fn check(&self) -> Result<(), String> {
        if self.tokens.is_empty() {
            return Err("at least one token must be served".into());
        }
        if u64::from(self.routing.fee_ppm) >= 1_000_000 {
            return Err("the proportional fee must be below 1,000,000 ppm".into());
        }
        // A payer's HTLC lives min + delta + margin seconds; the hub must accept that.
        let p = &self.policy;
        let needed = p
            .min_htlc_expiry_delta
            .saturating_add(self.routing.expiry_delta)
            .saturating_add(p.chain_margin);
        if needed > p.max_htlc_expiry_delta {
            return Err(format!(
                "the longest HTLC expiry ({}s) is below what a payment needs ({needed}s)",
                p.max_htlc_expiry_delta
            ));
        }
        Ok(())
    }
}

/// Caps on what peers can make the hub hold (see SECURITY.md).
#[derive(Clone, Debug)]
pub struct HubLimits {
    pub router: RouterLimits,
    pub admission: AdmissionLimits,
    /// Registered channels the chain does not show funded, over all clients. They live in
    /// memory only (nothing is written for them) and are forgotten after `unfunded_ttl_ms`.
    pub max_unfunded_channels: usize,
    pub unfunded_ttl_ms: u64,
    /// Unexpired invoices one merchant channel may have registered.
    pub max_invoices_per_channel: usize,
}

impl Default for HubLimits {
    fn default() -> Self {
        HubLimits {
            router: RouterLimits::default(),
            admission: AdmissionLimits::default(),
            max_unfunded_channels: 10_000,
            unfunded_ttl_ms: 3_600_000,
            max_invoices_per_channel: 100_000,
        }
    }
}

/// How often the actor forgets expired routes, unfunded registrations and strikes.
const MAINTENANCE_MS: u64 = 10_000;
/// The actor wakes at least this often, so `/health` sees its heartbeat.
const HEARTBEAT_MS: u64 = 1_000;

/// An API request the hub refused: a stable code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// Wall-clock milliseconds: the one place the hub reads the clock for the core.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A payment as the merchant API shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub channel_id: B256,
    pub payment_id: B256,
    /// `"received"` by the client, or `"sent"` by it.
    pub direction: &'static str,
    pub amount: String,
    pub refunded: String,
}

/// A channel as the API shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub channel_id: B256,
    pub client: Address,
    pub nonce: u64,
    pub client_balance: String,
    pub hub_balance: String,
    pub locked: String,
    pub connected: bool,
    /// `"open"`; `"closing"` once both agreed a final state (a cooperative close on its way
    /// to the chain); `"closed"` once the off-chain channel is over (the chain shows a close,
    /// or the hub took it to chain).
    pub status: &'static str,
}

pub enum Command {
    Connected {
        client: Address,
        conn: u64,
        tx: mpsc::Sender<Frame>,
    },
    Disconnected {
        client: Address,
        conn: u64,
    },
    Frame {
        client: Address,
        frame: Frame,
    },
    /// The chain shows `by`'s cumulative deposit in a channel at `total`.
    ChainDeposit {
        channel_id: B256,
        by: Address,
        total: Amount,
    },
    Persisted {
        items: Vec<(B256, u64)>,
        ok: bool,
    },
    /// Registers a merchant's invoice (already verified): the actor picks the merchant's
    /// funded channel in the invoice's token and fills in `record.channel_id`.
    Invoice {
        record: InvoiceRecord,
        token: Address,
        reply: oneshot::Sender<Result<B256, Refusal>>,
    },
    Payments {
        client: Address,
        reply: oneshot::Sender<Vec<PaymentView>>,
    },
    /// One page of channels ordered by id, after `after`: a client's own (`client`) or, for
    /// the operator, every channel (`client: None`).
    Channels {
        client: Option<Address>,
        after: Option<B256>,
        limit: usize,
        reply: oneshot::Sender<Vec<ChannelView>>,
    },
    /// Whether the hub holds channel `channel_id` (funded or not).
    Holds {
        channel_id: B256,
        reply: oneshot::Sender<bool>,
    },
    /// The chain shows a close of this channel: stop updating it.
    ChainClosing {
        channel_id: B256,
    },
    /// The latest state of a channel with both signatures, for the watchtower.
    SignedState {
        channel_id: B256,
        reply: oneshot::Sender<Option<SignedLatest>>,
    },
    /// The channels the hub must close on chain (their cores emitted `Event::GoToChain`) and
    /// that the chain does not show closing yet; the watcher closes them.
    ToChain {
        reply: oneshot::Sender<Vec<B256>>,
    },
    /// A channel must be closed on chain (the watcher restoring the record after a restart).
    GoToChain {
        channel_id: B256,
        reason: String,
    },
}

#[derive(Clone, Debug)]
pub struct SignedLatest {
    pub params: ChannelParams,
    pub state: l2pay::ChannelState,
    pub sigs: [l2pay::Signature; 2],
    /// Preimages the hub knows for HTLCs it receives in this state.
    pub preimages: Vec<(B256, B256)>,
}

/// Payment records a `SyncState` carries at most (~100 bytes each; frames are ≤ 64 KiB).
const MAX_SYNC_PAYMENTS: usize = 400;

pub struct HubActor {
    settings: HubSettings,
    signer: Arc<LocalSigner>,
    channels: Channels,
    by_client: HashMap<Address, Vec<B256>>,
    /// Deposits the chain showed, by channel and depositor, before or after registration.
    chain_deposits: HashMap<(B256, Address), Amount>,
    /// Channels to close on chain, with the reason, until the chain shows them closing.
    to_chain: BTreeMap<B256, String>,
    router: Router,
    conns: HashMap<Address, (u64, mpsc::Sender<Frame>)>,
    timers: BinaryHeap<Reverse<(u64, B256)>>,
    dirty: Vec<B256>,
    writes: Vec<Write>,
    seqs: Vec<(B256, u64)>,
    commit: GroupCommit,
    tx: mpsc::Sender<Command>,
    metrics: Arc<Metrics>,
    /// Channels registered but not funded on chain, with when they were registered. Their
    /// writes are acknowledged without being made: nothing of theirs is worth keeping.
    unfunded: HashMap<B256, u64>,
    /// Live invoices per merchant channel.
    invoices_per_channel: HashMap<B256, usize>,
    admission: Admission,
    logs: LogLimiter,
    next_maintenance: u64,
    /// The earliest timer entry queued per channel.
    scheduled: HashMap<B256, u64>,
    /// The channel being worked on, to blame if a panic strikes.
    current: Option<B256>,
}

impl HubActor {
    pub fn new(
        settings: HubSettings,
        signer: Arc<LocalSigner>,
        stored: Vec<StoredChannel>,
        invoices: Vec<InvoiceRecord>,
        commit: GroupCommit,
        tx: mpsc::Sender<Command>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut actor = HubActor {
            router: Router::with_limits(settings.routing.clone(), settings.limits.router.clone()),
            admission: Admission::new(settings.limits.admission.clone()),
            settings,
            signer,
            channels: HashMap::new(),
            by_client: HashMap::new(),
            chain_deposits: HashMap::new(),
            to_chain: BTreeMap::new(),
            conns: HashMap::new(),
            timers: BinaryHeap::new(),
            dirty: Vec::new(),
            writes: Vec::new(),
            seqs: Vec::new(),
            commit,
            tx,
            metrics,
            unfunded: HashMap::new(),
            invoices_per_channel: HashMap::new(),
            logs: LogLimiter::new(20),
            next_maintenance: 0,
            scheduled: HashMap::new(),
            current: None,
        };
        for s in stored {
            let id = s.snapshot.params.channel_id();
            let client = s.snapshot.params.participants[0];
            let ch = Channel::restore(s.snapshot, s.payments, actor.signer.clone());
            actor.channels.insert(id, ch);
            actor.by_client.entry(client).or_default().push(id);
        }
        let now_secs = now_ms() / 1_000;
        for inv in invoices.into_iter().filter(|i| i.expiry > now_secs) {
            actor.add_route(&inv, now_secs);
        }
        actor.router.reconcile(&mut actor.channels, now_ms());
        let touched = actor.router.take_touched();
        actor.dirty.extend(touched);
        actor.metrics.channels.set(actor.channels.len() as i64);
        actor
    }

    /// Runs until every sender of commands is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        self.guarded(None, |a| a.flush());
        loop {
            let now = now_ms();
            self.metrics.actor_heartbeat.set(now as i64);
            let deadline = self.timers.peek().map(|Reverse((t, _))| *t);
            let sleep = deadline.map_or(HEARTBEAT_MS, |t| t.saturating_sub(now).min(HEARTBEAT_MS));
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => {
                        self.handle_guarded(cmd);
                        // Take whatever else is queued before flushing: one group of writes.
                        while let Ok(cmd) = rx.try_recv() {
                            self.handle_guarded(cmd);
                        }
                    }
                    None => return,
                },
                _ = tokio::time::sleep(Duration::from_millis(sleep)) => {
                    self.guarded(None, |a| a.fire_timers());
                }
            }
            if now >= self.next_maintenance {
                self.next_maintenance = now.saturating_add(MAINTENANCE_MS);
                self.guarded(None, |a| a.maintain(now));
            }
            self.guarded(None, |a| a.flush());
        }
    }

    /// Handles one command; a panic fails the channel it concerned, never the hub.
    fn handle_guarded(&mut self, cmd: Command) {
        let channel = match &cmd {
            Command::Frame {
                frame: Frame::Channel(m),
                ..
            } => Some(m.channel_id()),
            Command::Frame {
                frame: Frame::Sync { channel_id },
                ..
            }
            | Command::ChainDeposit { channel_id, .. }
            | Command::ChainClosing { channel_id }
            | Command::SignedState { channel_id, .. } => Some(*channel_id),
            _ => None,
        };
        self.guarded(channel, |a| a.handle(cmd));
    }

    /// Runs `f`; if it panics (a bug: no input should get there), the channel concerned is
    /// failed (it takes no more inputs; its last durable state stays in the store for the
    /// operator and the dispute) and the hub carries on with every other channel.
    fn guarded(&mut self, channel: Option<B256>, f: impl FnOnce(&mut Self)) {
        if catch_unwind(AssertUnwindSafe(|| f(self))).is_ok() {
            return;
        }
        let channel = channel.or(self.current.take());
        self.metrics.panics.inc();
        tracing::error!(channel = ?channel, "a panic in the actor was caught; failing the channel");
        if let Some(id) = channel {
            if let Some(ch) = self.channels.get_mut(&id) {
                ch.quarantine("the hub hit an internal error on this channel");
            }
        }
        // Outputs half-drained when the panic struck are dropped with the failed channel.
        self.dirty.retain(|d| Some(*d) != channel);
    }

    /// Forgets what expired: invoice routes, unfunded registrations past their time, strikes.
    fn maintain(&mut self, now: u64) {
        self.router.prune(now / 1_000);
        self.invoices_per_channel = self.router.routes_per_channel();
        let ttl = self.settings.limits.unfunded_ttl_ms;
        let stale: Vec<B256> = self
            .unfunded
            .iter()
            .filter(|(_, at)| now.saturating_sub(**at) > ttl)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.forget_unfunded(id);
        }
        self.admission.prune(now);
        self.metrics.banned.set(self.admission.banned() as i64);
    }

    fn forget_unfunded(&mut self, id: B256) {
        self.unfunded.remove(&id);
        if let Some(ch) = self.channels.remove(&id) {
            let client = ch.params().participants[0];
            if let Some(ids) = self.by_client.get_mut(&client) {
                ids.retain(|c| *c != id);
                if ids.is_empty() {
                    self.by_client.remove(&client);
                }
            }
        }
        self.metrics.channels.set(self.channels.len() as i64);
        self.metrics
            .unfunded_channels
            .set(self.unfunded.len() as i64);
    }

    fn handle(&mut self, cmd: Command) {
        let now = now_ms();
        match cmd {
            Command::Connected { client, conn, tx } => {
                // Counted until its `Disconnected`, even when refused below.
                self.metrics.connections.inc();
                if self.admission.is_banned(&client, now) {
                    let _ = tx.try_send(Frame::Error {
                        code: BANNED.into(),
                        message: "this key is barred for misbehaviour for a while".into(),
                    });
                    return;
                }
                let params: Vec<ChannelParams> = self
                    .channels_of(client)
                    .map(|c| c.params().clone())
                    .collect();
                let routing = self.router.policy().clone();
                let _ = tx.try_send(Frame::Welcome {
                    channels: params,
                    policy: self.settings.policy.clone(),
                    routing,
                    terms: HubTerms {
                        min_challenge_period: self.settings.min_challenge_period,
                        tokens: self.settings.tokens.clone(),
                    },
                });
                if let Some((_, old)) = self.conns.insert(client, (conn, tx)) {
                    // One live connection per key: the newest wins, the older one is closed.
                    let _ = old.try_send(Frame::Error {
                        code: REPLACED.into(),
                        message: "another connection authenticated with this key".into(),
                    });
                }
                for id in self.by_client.get(&client).cloned().unwrap_or_default() {
                    if let Some(ch) = self.channels.get_mut(&id) {
                        ch.handle_connected(now);
                        self.dirty.push(id);
                    }
                }
            }
            Command::Disconnected { client, conn } => {
                self.metrics.connections.dec();
                if self.conns.get(&client).is_some_and(|(c, _)| *c == conn) {
                    self.conns.remove(&client);
                    self.client_gone(client);
                }
            }
            Command::Frame { client, frame } => self.on_frame(client, frame, now),
            Command::ChainDeposit {
                channel_id,
                by,
                total,
            } => {
                let seen = self.chain_deposits.entry((channel_id, by)).or_insert(0);
                *seen = (*seen).max(total);
                if let Some(ch) = self.channels.get_mut(&channel_id) {
                    if let Some(side) = ch.params().side_of(by) {
                        ch.handle_chain_deposit(side, total, now);
                        self.dirty.push(channel_id);
                        if total > 0 && self.unfunded.remove(&channel_id).is_some() {
                            // Funded: from now on its writes are made (the next snapshot is
                            // a complete record).
                            self.metrics
                                .unfunded_channels
                                .set(self.unfunded.len() as i64);
                        }
                    }
                }
            }
            Command::ChainClosing { channel_id } => {
                if let Some(ch) = self.channels.get_mut(&channel_id) {
                    ch.handle_chain_closing();
                }
                // The chain decides now; the watchtower follows the close from here.
                if self.to_chain.remove(&channel_id).is_some() {
                    self.record_to_chain();
                }
            }
            Command::Holds { channel_id, reply } => {
                let _ = reply.send(self.channels.contains_key(&channel_id));
            }
            Command::ToChain { reply } => {
                // The watcher asks once per poll: its heartbeat for `/health`.
                self.metrics.watcher_heartbeat.set(now as i64);
                let _ = reply.send(self.to_chain.keys().copied().collect());
            }
            Command::GoToChain { channel_id, reason } => {
                if self.channels.contains_key(&channel_id) {
                    self.to_chain.entry(channel_id).or_insert(reason);
                }
            }
            Command::Persisted { items, ok } => {
                if !ok {
                    // A failed commit must not release anything: the messages stay held, and
                    // the channels resume from the last durable state after a restart.
                    tracing::error!("durable write failed; holding dependent messages");
                    return;
                }
                for (id, seq) in items {
                    if let Some(ch) = self.channels.get_mut(&id) {
                        ch.handle_persisted(seq);
                        self.dirty.push(id);
                    }
                }
            }
            Command::Invoice {
                record,
                token,
                reply,
            } => {
                let _ = reply.send(self.register_invoice(record, token, now));
            }
            Command::Payments { client, reply } => {
                let views = self.payments_of(client);
                let _ = reply.send(views);
            }
            Command::Channels {
                client,
                after,
                limit,
                reply,
            } => {
                let views = self.channel_views(client, after, limit);
                let _ = reply.send(views);
            }
            Command::SignedState { channel_id, reply } => {
                let signed = self.channels.get_mut(&channel_id).and_then(|ch| {
                    let (state, sigs) = ch.signed_latest()?;
                    Some(SignedLatest {
                        params: ch.params().clone(),
                        state,
                        sigs,
                        preimages: Vec::new(),
                    })
                });
                // Preimages are learned on other channels (the merchant's settle).
                let signed = signed.map(|mut s| {
                    s.preimages = s
                        .state
                        .htlcs
                        .iter()
                        .filter_map(|h| {
                            known_preimage(&self.channels, &h.payment_hash)
                                .map(|p| (h.payment_hash, p))
                        })
                        .collect();
                    s
                });
                let _ = reply.send(signed);
            }
        }
    }

    fn on_frame(&mut self, client: Address, frame: Frame, now: u64) {
        self.metrics.frames_in.inc();
        match frame {
            Frame::Register { params } => {
                let channel_id = params.channel_id();
                if let Err(msg) = self.register(client, params, now) {
                    self.refuse(client, points::REFUSED, "BAD_CHANNEL", msg, now);
                } else {
                    self.send_to(client, Frame::Registered { channel_id });
                }
            }
            Frame::Channel(msg) => {
                let id = msg.channel_id();
                if self.owned_channel(client, id).is_none() {
                    self.strike(client, points::REFUSED, now);
                    return;
                }
                if self.unfunded.contains_key(&id) {
                    self.on_unfunded(client, msg, now);
                    return;
                }
                let Some(ch) = self.channels.get_mut(&id) else {
                    return;
                };
                self.dirty.push(id);
                if let Err(e) = ch.handle_message(msg, now) {
                    self.metrics.frames_rejected.inc();
                    if e.requires_chain() {
                        if let Some(n) = self.logs.allow("peer violated the protocol", now) {
                            tracing::warn!(channel = %id, error = %e, suppressed = n,
                                "peer violated the protocol");
                        }
                    }
                    // Honest peers hit the other refusals in races (a retransmission, a
                    // deposit the hub has not seen yet); only a signature that does not verify
                    // is never honest. An invalid op is refused before the signature check, so
                    // a stream of them costs little and is bounded by the connection's rate.
                    let weight = match e {
                        Error::Signature(_) => points::BAD_SIGNATURE,
                        _ => 0,
                    };
                    self.refuse(client, weight, e.code(), e.to_string(), now);
                }
            }
            Frame::Sync { channel_id } => {
                let Some(ch) = self.owned_channel(client, channel_id) else {
                    return;
                };
                let (state, sigs) = match ch.signed_latest() {
                    Some((state, sigs)) => (state, Some(sigs)),
                    None => (ch.latest().clone(), None),
                };
                let sync = SyncState {
                    params: ch.params().clone(),
                    state,
                    sigs,
                    chain_deposits: ch.snapshot().chain_deposits,
                    last_htlc_id: ch.snapshot().last_htlc_id,
                    // What refunds can still draw on, bounded to fit one frame.
                    payments: ch
                        .ledger()
                        .payments()
                        .filter(|(_, p)| p.refundable() > 0)
                        .take(MAX_SYNC_PAYMENTS)
                        .map(|(k, v)| (*k, v.clone()))
                        .collect(),
                };
                self.send_to(client, Frame::SyncState(Box::new(sync)));
            }
            Frame::Challenge { .. }
            | Frame::Auth { .. }
            | Frame::Welcome { .. }
            | Frame::Registered { .. }
            | Frame::SyncState(_)
            | Frame::Error { .. } => {
                self.metrics.frames_rejected.inc();
                self.error_to(
                    client,
                    "UNEXPECTED_FRAME",
                    "frame not valid at this point".into(),
                );
            }
        }
    }

    /// A message on a channel the chain does not show funded: nothing in it is worth a
    /// signature check. A deposit proposal is told the deposit is not seen yet (the client
    /// resends it, and it goes through once the watcher sees the deposit); a reestablish at
    /// nonce 0 is answered; anything else is refused with a strike.
    fn on_unfunded(&mut self, client: Address, msg: Message, now: u64) {
        match msg {
            Message::Reestablish(r) if r.latest_nonce == 0 => {
                if let Some(ch) = self.channels.get_mut(&r.channel_id) {
                    let id = r.channel_id;
                    if let Err(e) = ch.handle_message(Message::Reestablish(r), now) {
                        self.refuse(client, points::UNFUNDED, e.code(), e.to_string(), now);
                    }
                    self.dirty.push(id);
                }
            }
            Message::Propose(p) if matches!(p.op, l2pay::Op::Deposit { .. }) => {
                let l2pay::Op::Deposit { total, .. } = p.op else {
                    return;
                };
                self.send_to(
                    client,
                    Frame::Channel(Message::Reject(Reject {
                        channel_id: p.channel_id,
                        nonce: p.nonce,
                        reason: RejectReason::Invalid(UpdateError::DepositNotSeen {
                            total,
                            seen: 0,
                        }),
                        highest_signed: 0,
                    })),
                );
            }
            _ => {
                self.metrics.frames_rejected.inc();
                let e = UpdateError::NotFunded;
                self.refuse(client, points::UNFUNDED, "NOT_FUNDED", e.to_string(), now);
            }
        }
    }

    /// Answers `client` with an error frame and adds `weight` strike points against it.
    fn refuse(&mut self, client: Address, weight: u32, code: &str, message: String, now: u64) {
        self.error_to(client, code, message);
        self.strike(client, weight, now);
    }

    /// Adds strike points against `client`; a key over its limit is barred and disconnected.
    fn strike(&mut self, client: Address, weight: u32, now: u64) {
        if weight == 0 || !self.admission.strike(client, weight, now) {
            return;
        }
        self.metrics.banned.set(self.admission.banned() as i64);
        if let Some(n) = self.logs.allow("key banned", now) {
            tracing::warn!(%client, suppressed = n, "key banned for misbehaviour");
        }
        self.error_to(
            client,
            BANNED,
            "too many refused frames; this key is barred for a while".into(),
        );
        if self.conns.remove(&client).is_some() {
            self.client_gone(client);
        }
    }

    /// `client` has no connection any more: its channels pause, and its unfunded
    /// registrations are forgotten (a client registers its channels again on every welcome, so
    /// only connected keys hold any of them).
    fn client_gone(&mut self, client: Address) {
        for id in self.by_client.get(&client).cloned().unwrap_or_default() {
            if self.unfunded.contains_key(&id) {
                self.forget_unfunded(id);
            } else if let Some(ch) = self.channels.get_mut(&id) {
                ch.handle_disconnected();
            }
        }
    }

    /// Channel `id` if `client` is its participant A; otherwise the client gets
    /// `UNKNOWN_CHANNEL` (one key cannot act on another's channel).
    fn owned_channel(&mut self, client: Address, id: B256) -> Option<&mut Channel> {
        let owned = self
            .channels
            .get(&id)
            .is_some_and(|c| c.params().participants[0] == client);
        if !owned {
            self.metrics.frames_rejected.inc();
            self.error_to(
                client,
                "UNKNOWN_CHANNEL",
                format!("no channel {id} with this client"),
            );
            return None;
        }
        self.channels.get_mut(&id)
    }

    fn register(&mut self, client: Address, params: ChannelParams, now: u64) -> Result<(), String> {
        let s = &self.settings;
        if params.participants != [client, self.signer.address()] {
            return Err("participants must be [client, hub]".into());
        }
        if params.chain_id != s.chain_id || params.adjudicator != s.adjudicator {
            return Err("wrong chain or adjudicator".into());
        }
        params.validate()?;
        if params.challenge_period < s.min_challenge_period {
            return Err(format!(
                "challenge period must be at least {}s",
                s.min_challenge_period
            ));
        }
        if !s.tokens.contains(&params.token) {
            return Err(format!("this hub does not serve token {}", params.token));
        }
        let id = params.channel_id();
        if self.channels.contains_key(&id) {
            return Ok(());
        }
        if self.channels_of(client).count() >= s.max_channels_per_client {
            return Err("too many channels for this client".into());
        }
        let funded = params
            .participants
            .iter()
            .any(|who| self.chain_deposits.get(&(id, *who)).is_some_and(|t| *t > 0));
        if !funded && self.unfunded.len() >= s.limits.max_unfunded_channels {
            return Err("too many channels are waiting for their deposit; try again later".into());
        }
        let mut ch = Channel::new(params, Side::B, self.signer.clone(), s.policy.clone());
        if !funded {
            self.unfunded.insert(id, now);
            self.metrics
                .unfunded_channels
                .set(self.unfunded.len() as i64);
        }
        for side in [Side::A, Side::B] {
            let who = ch.params().address(side);
            if let Some(total) = self.chain_deposits.get(&(id, who)) {
                ch.handle_chain_deposit(side, *total, now);
            }
        }
        if self.conns.contains_key(&client) {
            ch.handle_connected(now);
        }
        self.channels.insert(id, ch);
        self.by_client.entry(client).or_default().push(id);
        self.metrics.channels.set(self.channels.len() as i64);
        self.dirty.push(id);
        Ok(())
    }

    fn fire_timers(&mut self) {
        let now = now_ms();
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            if self.scheduled.get(&id) == Some(&t) {
                self.scheduled.remove(&id);
            }
            self.current = Some(id);
            if let Some(ch) = self.channels.get_mut(&id) {
                if ch.poll_timeout().is_some_and(|d| d <= now) {
                    ch.handle_timeout(now);
                }
                // Drained and re-armed at its next deadline by the flush.
                self.dirty.push(id);
            }
        }
        self.current = None;
    }

    /// Drains the outputs of every channel touched since the last flush and starts one group
    /// commit for all the writes they asked for.
    fn flush(&mut self) {
        let now = now_ms();
        let mut seen = HashSet::new();
        while let Some(id) = self.dirty.pop() {
            seen.insert(id);
            self.current = Some(id);
            let unfunded = self.unfunded.contains_key(&id);
            let mut ack = None;
            while let Some(out) = self.channels.get_mut(&id).and_then(Channel::poll_output) {
                match out {
                    Output::Persist(p) if unfunded => {
                        // Nothing of an unfunded channel is worth a write (it signs nothing;
                        // see `on_unfunded`): the write counts as made.
                        ack = Some(p.seq);
                    }
                    Output::Persist(p) => {
                        self.seqs.push((id, p.seq));
                        if let Some((pid, payment)) = p.payment {
                            self.writes.push(Write::Payment {
                                channel_id: id,
                                payment_id: pid,
                                payment,
                            });
                        }
                        self.writes.push(Write::Snapshot {
                            channel_id: id,
                            snapshot: Box::new(p.snapshot),
                        });
                    }
                    Output::Send(m) => {
                        if let Some(ch) = self.channels.get(&id) {
                            let client = ch.params().participants[0];
                            self.send_to(client, Frame::Channel(m));
                        }
                    }
                    Output::Event(e) => self.on_event(id, e, now),
                }
            }
            if let (Some(seq), Some(ch)) = (ack, self.channels.get_mut(&id)) {
                ch.handle_persisted(seq);
                self.dirty.push(id);
            }
        }
        self.current = None;
        for id in seen {
            if let Some(t) = self.channels.get(&id).and_then(Channel::poll_timeout) {
                // One timer entry per channel and deadline, however often it is touched.
                if self.scheduled.get(&id).is_none_or(|s| t < *s) {
                    self.scheduled.insert(id, t);
                    self.timers.push(Reverse((t, id)));
                }
            }
        }
        if !self.writes.is_empty() {
            let writes = std::mem::take(&mut self.writes);
            let items = std::mem::take(&mut self.seqs);
            // Queued now, so writes reach the database in the order the cores asked for them;
            // a group completes only after every earlier group, so confirmations are safe in
            // any order.
            let durable = self.commit.enqueue(writes);
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let ok = durable.await.is_ok();
                let _ = tx.send(Command::Persisted { items, ok }).await;
            });
        }
    }

    fn on_event(&mut self, id: B256, e: Event, now: u64) {
        tracing::debug!(channel = %id, event = ?e, "channel event");
        match &e {
            Event::Updated { op, .. } => {
                self.metrics.updates.inc();
                if matches!(op, Op::SettleHtlc { .. }) && self.channels[&id].me() == Side::B {
                    self.metrics.htlcs_settled.inc();
                }
            }
            Event::GoToChain { reason } => {
                // The watcher closes it with the latest doubly-signed state (off this task:
                // the actor never waits for the chain); durable with this flush's writes.
                tracing::warn!(channel = %id, %reason, "channel must go to chain; closing it");
                self.to_chain.insert(id, reason.clone());
                self.record_to_chain();
            }
            Event::ProposalRejected { op, reason } => {
                tracing::debug!(channel = %id, ?op, ?reason, "proposal rejected");
            }
        }
        self.router.on_event(id, &e, &mut self.channels, now);
        let touched = self.router.take_touched();
        self.dirty.extend(touched);
    }

    /// Makes `inv`'s merchant channel the route of its payment hash (loading from the store).
    fn add_route(&mut self, inv: &InvoiceRecord, now_secs: u64) -> bool {
        let route = Route {
            channel: inv.channel_id,
            amount: inv.amount,
            expiry: inv.expiry,
        };
        match self.router.register(inv.payment_hash, route, now_secs) {
            Ok(true) => {
                *self.invoices_per_channel.entry(inv.channel_id).or_insert(0) += 1;
                true
            }
            _ => false,
        }
    }

    /// Registers a verified invoice: the hash goes to the merchant's funded, open channel in
    /// the invoice's token, unless another merchant's unexpired invoice holds it already.
    /// O(channels of the merchant).
    fn register_invoice(
        &mut self,
        mut record: InvoiceRecord,
        token: Address,
        now: u64,
    ) -> Result<B256, Refusal> {
        let channel_id = self
            .by_client
            .get(&record.merchant)
            .into_iter()
            .flatten()
            .copied()
            .find(|id| {
                !self.unfunded.contains_key(id)
                    && self.channels.get(id).is_some_and(|ch| {
                        ch.params().token == token
                            && ch.failure().is_none()
                            && !ch.latest().is_final
                    })
            })
            .ok_or_else(|| {
                Refusal::new(
                    "NO_CHANNEL",
                    format!("the merchant has no funded channel in token {token} with this hub"),
                )
            })?;
        record.channel_id = channel_id;
        let live = self
            .invoices_per_channel
            .get(&channel_id)
            .copied()
            .unwrap_or(0);
        if live >= self.settings.limits.max_invoices_per_channel {
            return Err(Refusal::new(
                "TOO_MANY_INVOICES",
                "too many unexpired invoices on this channel; try again later",
            ));
        }
        let route = Route {
            channel: channel_id,
            amount: record.amount,
            expiry: record.expiry,
        };
        match self
            .router
            .register(record.payment_hash, route, now / 1_000)
        {
            Ok(true) => {
                *self.invoices_per_channel.entry(channel_id).or_insert(0) += 1;
                self.writes.push(Write::Invoice(record));
                Ok(channel_id)
            }
            Ok(false) => Ok(channel_id),
            Err(e) => Err(Refusal::new("PAYMENT_HASH_TAKEN", e.to_string())),
        }
    }

    /// Queues the durable record of the channels to close on chain.
    fn record_to_chain(&mut self) {
        match serde_json::to_string(&self.to_chain) {
            Ok(value) => self.writes.push(Write::Meta {
                key: GO_TO_CHAIN.into(),
                value,
            }),
            Err(e) => tracing::error!(error = %e, "encoding the go-to-chain record"),
        }
    }

    fn send_to(&mut self, client: Address, frame: Frame) {
        if let Some((_, tx)) = self.conns.get(&client) {
            if tx.try_send(frame).is_err() {
                // A client that does not read its socket loses the frame; it resynchronises
                // with Reestablish when it reconnects.
                self.metrics.frames_dropped.inc();
            }
        }
    }

    fn error_to(&mut self, client: Address, code: &str, message: String) {
        self.send_to(
            client,
            Frame::Error {
                code: code.into(),
                message,
            },
        );
    }

    fn channels_of(&self, client: Address) -> impl Iterator<Item = &Channel> {
        self.by_client
            .get(&client)
            .into_iter()
            .flatten()
            .filter_map(|id| self.channels.get(id))
    }

    fn payments_of(&self, client: Address) -> Vec<PaymentView> {
        let mut out = vec![];
        for ch in self.channels_of(client) {
            for (pid, p) in ch.ledger().payments() {
                out.push(PaymentView {
                    channel_id: ch.id(),
                    payment_id: *pid,
                    direction: if p.payer == Side::A {
                        "sent"
                    } else {
                        "received"
                    },
                    amount: p.amount.to_string(),
                    refunded: p.refunded.to_string(),
                });
            }
        }
        out
    }

    fn channel_views(
        &self,
        client: Option<Address>,
        after: Option<B256>,
        limit: usize,
    ) -> Vec<ChannelView> {
        let mut ids: Vec<B256> = match client {
            Some(c) => self.by_client.get(&c).cloned().unwrap_or_default(),
            None => self.channels.keys().copied().collect(),
        };
        ids.retain(|id| after.is_none_or(|a| *id > a));
        ids.sort_unstable();
        ids.truncate(limit);
        ids.iter()
            .filter_map(|id| self.channels.get(id))
            .map(|ch| {
                let s = ch.latest();
                let client = ch.params().participants[0];
                ChannelView {
                    channel_id: ch.id(),
                    client,
                    nonce: s.nonce,
                    client_balance: s.balances[0].to_string(),
                    hub_balance: s.balances[1].to_string(),
                    locked: s.locked().to_string(),
                    connected: self.conns.contains_key(&client),
                    status: if ch.failure().is_some() {
                        "closed"
                    } else if s.is_final {
                        "closing"
                    } else {
                        "open"
                    },
                }
            })
            .collect()
    }
}
