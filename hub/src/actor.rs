//! The hub's driver: one task that owns every channel core and the router, feeds them inputs
//! from connections, the chain watcher and timers, and executes their outputs. It never blocks
//! on I/O: writes go to the group committer in the background and come back as
//! [`Command::Persisted`], which releases the messages that waited for them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256};
use l2pay::channel::{Channel, Event, Output};
use l2pay::op::{Op, Policy};
use l2pay::router::{known_preimage, Channels, Router, RoutingPolicy};
use l2pay::session::{Frame, SyncState};
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::{ChannelParams, Side};
use l2pay::Amount;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{GroupCommit, InvoiceRecord, StoredChannel, Write};

/// Error code sent on a connection that a newer one with the same key replaced.
pub const REPLACED: &str = "REPLACED";

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
    Invoice {
        record: InvoiceRecord,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Payments {
        client: Address,
        reply: oneshot::Sender<Vec<PaymentView>>,
    },
    Channels {
        reply: oneshot::Sender<Vec<ChannelView>>,
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
            router: Router::new(settings.routing.clone()),
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
        };
        for s in stored {
            let id = s.snapshot.params.channel_id();
            let client = s.snapshot.params.participants[0];
            let ch = Channel::restore(s.snapshot, s.payments, actor.signer.clone());
            actor.channels.insert(id, ch);
            actor.by_client.entry(client).or_default().push(id);
        }
        for inv in invoices {
            actor.router.register(inv.payment_hash, inv.channel_id);
        }
        actor.router.reconcile(&mut actor.channels, now_ms());
        let touched = actor.router.take_touched();
        actor.dirty.extend(touched);
        actor.metrics.channels.set(actor.channels.len() as i64);
        actor
    }

    /// Runs until every sender of commands is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        self.flush();
        loop {
            let deadline = self.timers.peek().map(|Reverse((t, _))| *t);
            let sleep = deadline.map_or(Duration::from_secs(3600), |t| {
                Duration::from_millis(t.saturating_sub(now_ms()))
            });
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => {
                        self.handle(cmd);
                        // Take whatever else is queued before flushing: one group of writes.
                        while let Ok(cmd) = rx.try_recv() {
                            self.handle(cmd);
                        }
                    }
                    None => return,
                },
                _ = tokio::time::sleep(sleep) => self.fire_timers(),
            }
            self.flush();
        }
    }

    fn handle(&mut self, cmd: Command) {
        let now = now_ms();
        match cmd {
            Command::Connected { client, conn, tx } => {
                self.metrics.connections.inc();
                let params: Vec<ChannelParams> = self
                    .channels_of(client)
                    .map(|c| c.params().clone())
                    .collect();
                let routing = self.router.policy().clone();
                let _ = tx.try_send(Frame::Welcome {
                    channels: params,
                    policy: self.settings.policy.clone(),
                    routing,
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
                    for id in self.by_client.get(&client).cloned().unwrap_or_default() {
                        if let Some(ch) = self.channels.get_mut(&id) {
                            ch.handle_disconnected();
                        }
                    }
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
            Command::ToChain { reply } => {
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
            Command::Invoice { record, reply } => {
                let ok = self
                    .channels
                    .get(&record.channel_id)
                    .is_some_and(|c| c.params().participants[0] == record.merchant);
                if ok {
                    self.router.register(record.payment_hash, record.channel_id);
                    self.writes.push(Write::Invoice(record));
                    let _ = reply.send(Ok(()));
                } else {
                    let _ = reply.send(Err("the merchant has no channel with this hub".into()));
                }
            }
            Command::Payments { client, reply } => {
                let views = self.payments_of(client);
                let _ = reply.send(views);
            }
            Command::Channels { reply } => {
                let views = self.channel_views();
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
                if let Err(msg) = self.register(client, params.clone(), now) {
                    self.error_to(client, "BAD_CHANNEL", msg);
                } else {
                    self.send_to(
                        client,
                        Frame::Registered {
                            channel_id: params.channel_id(),
                        },
                    );
                }
            }
            Frame::Channel(msg) => {
                let id = msg.channel_id();
                let Some(ch) = self.owned_channel(client, id) else {
                    return;
                };
                if let Err(e) = ch.handle_message(msg, now) {
                    self.metrics.frames_rejected.inc();
                    if e.requires_chain() {
                        tracing::warn!(channel = %id, error = %e, "peer violated the protocol");
                    }
                    self.dirty.push(id);
                    self.error_to(client, e.code(), e.to_string());
                    return;
                }
                self.dirty.push(id);
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
        if params.challenge_period < s.min_challenge_period {
            return Err(format!(
                "challenge period must be at least {}s",
                s.min_challenge_period
            ));
        }
        let id = params.channel_id();
        if self.channels.contains_key(&id) {
            return Ok(());
        }
        if self.channels_of(client).count() >= s.max_channels_per_client {
            return Err("too many channels for this client".into());
        }
        let mut ch = Channel::new(params, Side::B, self.signer.clone(), s.policy.clone());
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
            if let Some(ch) = self.channels.get_mut(&id) {
                if ch.poll_timeout().is_some_and(|d| d <= now) {
                    ch.handle_timeout(now);
                    self.dirty.push(id);
                }
            }
        }
    }

    /// Drains the outputs of every channel touched since the last flush and starts one group
    /// commit for all the writes they asked for.
    fn flush(&mut self) {
        let now = now_ms();
        let mut seen = HashSet::new();
        while let Some(id) = self.dirty.pop() {
            seen.insert(id);
            while let Some(out) = self.channels.get_mut(&id).and_then(Channel::poll_output) {
                match out {
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
                        let client = self.channels[&id].params().participants[0];
                        self.send_to(client, Frame::Channel(m));
                    }
                    Output::Event(e) => self.on_event(id, e, now),
                }
            }
        }
        for id in seen {
            if let Some(t) = self.channels.get(&id).and_then(Channel::poll_timeout) {
                self.timers.push(Reverse((t, id)));
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

    fn channel_views(&self) -> Vec<ChannelView> {
        self.channels
            .values()
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
