//! A native client of the hub, driving the same channel core the browser runs: used by the
//! integration tests and the load generator. It authenticates, registers channels, pays
//! invoices with HTLCs, settles incoming HTLCs for its own invoices (as a merchant does),
//! refunds, and reconnects with backoff when the connection drops.
//!
//! Persistence: with a [`Store`] every write is durable before the client speaks; without one
//! the client keeps its records in memory (fine for load generation, not for real funds).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use futures_util::{SinkExt, StreamExt};
use l2pay::channel::{Channel, Event, Output};
use l2pay::invoice::{Invoice, InvoiceRequest};
use l2pay::ledger::Payment;
use l2pay::op::{payment_hash, Op, Policy};
use l2pay::router::RoutingPolicy;
use l2pay::session::{answer_challenge, Frame};
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::{ChannelParams, ChannelState, Side};
use l2pay::wire::{decode_frame, encode_frame};
use l2pay::Amount;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::actor::now_ms;
use crate::store::{Store, Write};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("could not reach the hub: {0}")]
    Connect(String),
    #[error("hub refused: {code}: {message}")]
    Hub { code: String, message: String },
    #[error(transparent)]
    Core(#[from] l2pay::Error),
    #[error("invoice: {0}")]
    Invoice(String),
    #[error("payment failed: {0}")]
    PaymentFailed(String),
    #[error("no channel {0}")]
    UnknownChannel(B256),
    #[error("client stopped")]
    Stopped,
}

/// What the client reports to its owner.
#[derive(Clone, Debug)]
pub enum ClientEvent {
    Connected,
    Disconnected,
    Updated { channel_id: B256, op: Op, by: Side },
    HubError { code: String, message: String },
}

/// A channel's latest agreed state and its payment records.
pub type ChannelView = (ChannelState, Vec<(B256, Payment)>);

enum Cmd {
    Open(ChannelParams, oneshot::Sender<Result<B256, ClientError>>),
    ChainDeposit(B256, Side, Amount),
    Propose(B256, Op, oneshot::Sender<Result<(), ClientError>>),
    Pay {
        channel_id: B256,
        amount: Amount,
        hash: B256,
        expiry: u64,
        reply: oneshot::Sender<Result<B256, ClientError>>,
    },
    /// A merchant's invoice: payment hash, preimage and the amount it must receive.
    Invoice(B256, B256, Amount),
    State(B256, oneshot::Sender<Option<ChannelView>>),
    DropConnection,
    Shutdown,
}

/// A handle to a running client; cheap to clone.
#[derive(Clone)]
pub struct HubClient {
    cmd: mpsc::Sender<Cmd>,
    events: broadcast::Sender<ClientEvent>,
    signer: Arc<LocalSigner>,
    pub hub: Address,
    pub chain_id: u64,
    pub adjudicator: Address,
    /// The channel policy the hub enforces (both ends of a channel must agree on it).
    pub policy: Policy,
    pub routing: RoutingPolicy,
    http: String,
}

impl HubClient {
    /// Connects to `ws://HOST:PORT/ws`, authenticates and starts the driver task.
    pub async fn connect(
        url: &str,
        signer: Arc<LocalSigner>,
        store: Option<Store>,
    ) -> Result<HubClient, ClientError> {
        let (conn, hello) = dial(url, &signer).await?;
        let Hello {
            hub,
            chain_id,
            adjudicator,
            policy,
            routing,
        } = hello;
        let (cmd, rx) = mpsc::channel(1_024);
        let (events, _) = broadcast::channel(4_096);
        let mut driver = Driver {
            url: url.to_string(),
            signer: signer.clone(),
            store,
            channels: HashMap::new(),
            payments: HashMap::new(),
            invoices: HashMap::new(),
            pending_open: HashMap::new(),
            policy: policy.clone(),
            events: events.clone(),
            out: None,
        };
        driver.load().await;
        tokio::spawn(driver.run(conn, rx));
        let http = url
            .replacen("ws://", "http://", 1)
            .trim_end_matches("/ws")
            .to_string();
        Ok(HubClient {
            cmd,
            events,
            signer,
            hub,
            chain_id,
            adjudicator,
            policy,
            routing,
            http,
        })
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }

    pub fn events(&self) -> broadcast::Receiver<ClientEvent> {
        self.events.subscribe()
    }

    /// Parameters of a channel between this client (A) and the hub (B).
    pub fn channel_params(
        &self,
        token: Address,
        challenge_period: u64,
        salt: B256,
    ) -> ChannelParams {
        ChannelParams {
            chain_id: self.chain_id,
            adjudicator: self.adjudicator,
            participants: [self.address(), self.hub],
            token,
            challenge_period,
            salt,
        }
    }

    async fn ask<T>(&self, f: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Result<T, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(f(tx))
            .await
            .map_err(|_| ClientError::Stopped)?;
        rx.await.map_err(|_| ClientError::Stopped)
    }

    /// Registers a channel (already opened on chain) with the hub.
    pub async fn register(&self, params: ChannelParams) -> Result<B256, ClientError> {
        self.ask(|r| Cmd::Open(params, r)).await?
    }

    /// Tells the channel what the chain shows (the client's own chain watching).
    pub async fn chain_deposit(
        &self,
        channel_id: B256,
        side: Side,
        total: Amount,
    ) -> Result<(), ClientError> {
        self.cmd
            .send(Cmd::ChainDeposit(channel_id, side, total))
            .await
            .map_err(|_| ClientError::Stopped)
    }

    pub async fn propose(&self, channel_id: B256, op: Op) -> Result<(), ClientError> {
        self.ask(|r| Cmd::Propose(channel_id, op, r)).await?
    }

    /// Pays an invoice through the hub; resolves with the preimage once the hub settled.
    pub async fn pay_invoice(&self, channel_id: B256, invoice: &str) -> Result<B256, ClientError> {
        let inv = Invoice::decode(invoice).map_err(|e| ClientError::Invoice(e.to_string()))?;
        inv.check_expiry(now_ms())
            .map_err(|e| ClientError::Invoice(e.to_string()))?;
        let amount = self
            .routing
            .amount_to_send(inv.request.amount)
            .ok_or_else(|| {
                ClientError::Invoice("the amount with the hub's fee does not fit an amount".into())
            })?;
        // Long enough for the hub's forward to meet the merchant's minimum, plus a margin.
        let expiry = (now_ms() / 1_000)
            .saturating_add(self.policy.min_htlc_expiry_delta)
            .saturating_add(self.routing.expiry_delta)
            .saturating_add(self.policy.chain_margin);
        let hash = inv.request.payment_hash;
        self.ask(|reply| Cmd::Pay {
            channel_id,
            amount,
            hash,
            expiry,
            reply,
        })
        .await?
    }

    /// Creates, signs and registers an invoice in the native coin; incoming HTLCs for it are
    /// settled automatically.
    pub async fn create_invoice(
        &self,
        amount: Amount,
        description: &str,
        ttl_secs: u64,
    ) -> Result<String, ClientError> {
        self.create_invoice_in(Address::ZERO, amount, description, ttl_secs)
            .await
    }

    /// Creates, signs and registers an invoice in `token` (`Address::ZERO`: the native coin);
    /// incoming HTLCs for it are settled automatically.
    pub async fn create_invoice_in(
        &self,
        token: Address,
        amount: Amount,
        description: &str,
        ttl_secs: u64,
    ) -> Result<String, ClientError> {
        let mut preimage = [0u8; 32];
        getrandom::fill(&mut preimage).map_err(|e| ClientError::Invoice(e.to_string()))?;
        let preimage = B256::from(preimage);
        let hash = payment_hash(&preimage);
        let req = InvoiceRequest {
            chain_id: self.chain_id,
            amount,
            token,
            payment_hash: hash,
            expiry: (now_ms() / 1_000).saturating_add(ttl_secs),
            merchant: self.address(),
            hub_url: self.http.clone(),
            description: description.into(),
        };
        let s = req
            .sign(self.signer.as_ref())
            .and_then(|inv| inv.encode())
            .map_err(|e| ClientError::Invoice(e.to_string()))?;
        self.cmd
            .send(Cmd::Invoice(hash, preimage, amount))
            .await
            .map_err(|_| ClientError::Stopped)?;
        post_invoice(&self.http, &s).await?;
        Ok(s)
    }

    /// The latest agreed state and payment records of a channel.
    pub async fn state(
        &self,
        channel_id: B256,
    ) -> Result<(ChannelState, Vec<(B256, Payment)>), ClientError> {
        self.ask(|r| Cmd::State(channel_id, r))
            .await?
            .ok_or(ClientError::UnknownChannel(channel_id))
    }

    /// Stops the client for good: it disconnects and never comes back (tests: a shopper who
    /// closes the tab mid-payment).
    pub async fn shutdown(&self) {
        let _ = self.cmd.send(Cmd::Shutdown).await;
    }

    /// Drops the WebSocket (tests: a network failure); the driver reconnects with backoff.
    pub async fn drop_connection(&self) {
        let _ = self.cmd.send(Cmd::DropConnection).await;
    }
}

/// Registers an invoice with the hub's HTTP API (`POST /api/invoices`).
async fn post_invoice(http: &str, invoice: &str) -> Result<(), ClientError> {
    let url = format!("{http}/api/invoices");
    let body = serde_json::json!({ "invoice": invoice }).to_string();
    let (status, text) = crate::client::http_post(&url, &body)
        .await
        .map_err(ClientError::Connect)?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(ClientError::Hub {
            code: status.to_string(),
            message: text,
        })
    }
}

/// A minimal HTTP/1.1 POST over a TCP stream (the hub's API is local JSON).
pub async fn http_post(url: &str, body: &str) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut s = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("malformed HTTP response")?;
    let body = resp
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}

type Conn =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Hello {
    hub: Address,
    chain_id: u64,
    adjudicator: Address,
    policy: Policy,
    routing: RoutingPolicy,
}

async fn next_frame(conn: &mut Conn) -> Result<Frame, ClientError> {
    loop {
        match conn.next().await {
            Some(Ok(WsMessage::Binary(b))) => return decode_frame(&b).map_err(ClientError::Core),
            Some(Ok(WsMessage::Close(_))) | None => {
                return Err(ClientError::Connect("closed".into()))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ClientError::Connect(e.to_string())),
        }
    }
}

async fn send_frame(conn: &mut Conn, f: &Frame) -> Result<(), ClientError> {
    let bytes = encode_frame(f)?;
    conn.send(WsMessage::Binary(bytes.into()))
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))
}

/// Connects and authenticates.
async fn dial(url: &str, signer: &LocalSigner) -> Result<(Conn, Hello), ClientError> {
    let (mut conn, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    let Frame::Challenge {
        hub,
        chain_id,
        adjudicator,
        challenge,
    } = next_frame(&mut conn).await?
    else {
        return Err(ClientError::Connect("expected a challenge".into()));
    };
    send_frame(
        &mut conn,
        &answer_challenge(signer, chain_id, hub, challenge),
    )
    .await?;
    match next_frame(&mut conn).await? {
        Frame::Welcome {
            policy, routing, ..
        } => Ok((
            conn,
            Hello {
                hub,
                chain_id,
                adjudicator,
                policy,
                routing,
            },
        )),
        Frame::Error { code, message } => Err(ClientError::Hub { code, message }),
        other => Err(ClientError::Connect(format!(
            "expected welcome, got {other:?}"
        ))),
    }
}

struct Driver {
    url: String,
    signer: Arc<LocalSigner>,
    store: Option<Store>,
    channels: HashMap<B256, Channel>,
    /// Outstanding payments: payment hash → who waits for the preimage.
    payments: HashMap<B256, oneshot::Sender<Result<B256, ClientError>>>,
    /// The merchant's invoices: payment hash → (preimage, amount due).
    invoices: HashMap<B256, (B256, Amount)>,
    pending_open: HashMap<B256, oneshot::Sender<Result<B256, ClientError>>>,
    policy: Policy,
    events: broadcast::Sender<ClientEvent>,
    out: Option<mpsc::UnboundedSender<Frame>>,
}

impl Driver {
    async fn load(&mut self) {
        let Some(store) = &self.store else { return };
        if let Ok(stored) = store.load_channels().await {
            for s in stored {
                let id = s.snapshot.params.channel_id();
                self.channels.insert(
                    id,
                    Channel::restore(s.snapshot, s.payments, self.signer.clone()),
                );
            }
        }
    }

    async fn run(mut self, conn: Conn, mut rx: mpsc::Receiver<Cmd>) {
        let mut conn = Some(conn);
        let mut backoff = Duration::from_millis(50);
        loop {
            let c = match conn.take() {
                Some(c) => c,
                None => match dial(&self.url, &self.signer).await {
                    Ok((c, _)) => {
                        backoff = Duration::from_millis(50);
                        c
                    }
                    Err(_) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                },
            };
            if !self.session(c, &mut rx).await {
                return;
            }
            let _ = self.events.send(ClientEvent::Disconnected);
        }
    }

    /// Runs one connection. Returns false when the owner is gone.
    async fn session(&mut self, conn: Conn, rx: &mut mpsc::Receiver<Cmd>) -> bool {
        let (mut sink, mut stream) = conn.split();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Frame>();
        self.out = Some(out_tx);
        let _ = self.events.send(ClientEvent::Connected);
        let now = now_ms();
        let ids: Vec<B256> = self.channels.keys().copied().collect();
        for id in &ids {
            let params = self.channels[id].params().clone();
            self.send(Frame::Register { params });
            let ch = self.channels.get_mut(id).expect("listed");
            ch.handle_disconnected();
            ch.handle_connected(now);
        }
        self.flush(ids).await;
        loop {
            let deadline = self
                .channels
                .values()
                .filter_map(Channel::poll_timeout)
                .min();
            let sleep = deadline.map_or(Duration::from_secs(3600), |t| {
                Duration::from_millis(t.saturating_sub(now_ms()))
            });
            tokio::select! {
                frame = out_rx.recv() => {
                    let Some(frame) = frame else { continue };
                    let Ok(bytes) = encode_frame(&frame) else { continue };
                    if sink.send(WsMessage::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
                msg = stream.next() => {
                    let frame = match msg {
                        Some(Ok(WsMessage::Binary(b))) => match decode_frame::<Frame>(&b) {
                            Ok(f) => f,
                            Err(_) => continue,
                        },
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => continue,
                    };
                    self.on_frame(frame).await;
                }
                cmd = rx.recv() => match cmd {
                    Some(Cmd::DropConnection) => break,
                    Some(Cmd::Shutdown) => {
                        let _ = sink.close().await;
                        return false;
                    }
                    Some(cmd) => self.on_cmd(cmd).await,
                    None => return false,
                },
                _ = tokio::time::sleep(sleep) => {
                    let now = now_ms();
                    let due: Vec<B256> = self.channels.iter().filter(|(_, c)| c.poll_timeout().is_some_and(|t| t <= now)).map(|(id, _)| *id).collect();
                    for id in &due {
                        self.channels.get_mut(id).expect("listed").handle_timeout(now);
                    }
                    self.flush(due).await;
                }
            }
        }
        self.out = None;
        let _ = sink.close().await;
        for ch in self.channels.values_mut() {
            ch.handle_disconnected();
        }
        true
    }

    fn send(&self, f: Frame) {
        if let Some(out) = &self.out {
            let _ = out.send(f);
        }
    }

    async fn on_frame(&mut self, frame: Frame) {
        let now = now_ms();
        tracing::debug!(client = %self.signer.address(), ?frame, "client received");
        match frame {
            Frame::Channel(m) => {
                let id = m.channel_id();
                if let Some(ch) = self.channels.get_mut(&id) {
                    let _ = ch.handle_message(m, now);
                    self.flush(vec![id]).await;
                }
            }
            Frame::Registered { channel_id } => {
                if let Some(r) = self.pending_open.remove(&channel_id) {
                    let _ = r.send(Ok(channel_id));
                }
            }
            Frame::Error { code, message } => {
                if code == "BAD_CHANNEL" {
                    for (_, r) in self.pending_open.drain() {
                        let _ = r.send(Err(ClientError::Hub {
                            code: code.clone(),
                            message: message.clone(),
                        }));
                    }
                }
                let _ = self.events.send(ClientEvent::HubError { code, message });
            }
            _ => {}
        }
    }

    async fn on_cmd(&mut self, cmd: Cmd) {
        let now = now_ms();
        match cmd {
            Cmd::Open(params, reply) => {
                let id = params.channel_id();
                if !self.channels.contains_key(&id) {
                    let mut ch = Channel::new(
                        params.clone(),
                        Side::A,
                        self.signer.clone(),
                        self.policy.clone(),
                    );
                    ch.handle_connected(now);
                    self.channels.insert(id, ch);
                }
                self.pending_open.insert(id, reply);
                self.send(Frame::Register { params });
                self.flush(vec![id]).await;
            }
            Cmd::ChainDeposit(id, side, total) => {
                if let Some(ch) = self.channels.get_mut(&id) {
                    ch.handle_chain_deposit(side, total, now);
                    self.flush(vec![id]).await;
                }
            }
            Cmd::Propose(id, op, reply) => {
                let r = match self.channels.get_mut(&id) {
                    Some(ch) => ch.propose(op, now).map_err(ClientError::Core),
                    None => Err(ClientError::UnknownChannel(id)),
                };
                let _ = reply.send(r);
                self.flush(vec![id]).await;
            }
            Cmd::Pay {
                channel_id,
                amount,
                hash,
                expiry,
                reply,
            } => {
                let Some(ch) = self.channels.get_mut(&channel_id) else {
                    let _ = reply.send(Err(ClientError::UnknownChannel(channel_id)));
                    return;
                };
                let id = ch.next_htlc_id();
                match ch.propose(
                    Op::AddHtlc {
                        id,
                        amount,
                        payment_hash: hash,
                        expiry,
                    },
                    now,
                ) {
                    Ok(()) => {
                        self.payments.insert(hash, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(ClientError::Core(e)));
                    }
                }
                self.flush(vec![channel_id]).await;
            }
            Cmd::Invoice(hash, preimage, amount) => {
                self.invoices.insert(hash, (preimage, amount));
            }
            Cmd::State(id, reply) => {
                let s = self.channels.get(&id).map(|c| {
                    let payments = c
                        .ledger()
                        .payments()
                        .map(|(k, v)| (*k, v.clone()))
                        .collect();
                    (c.latest().clone(), payments)
                });
                let _ = reply.send(s);
            }
            Cmd::DropConnection | Cmd::Shutdown => {}
        }
    }

    /// Drains the outputs of the given channels: writes (durable before anything that depends
    /// on them is released), messages and events.
    async fn flush(&mut self, mut ids: Vec<B256>) {
        let now = now_ms();
        while let Some(id) = ids.pop() {
            let mut writes = vec![];
            let mut seqs = vec![];
            while let Some(out) = self.channels.get_mut(&id).and_then(Channel::poll_output) {
                match out {
                    Output::Persist(p) => {
                        seqs.push(p.seq);
                        if let Some((pid, payment)) = p.payment {
                            writes.push(Write::Payment {
                                channel_id: id,
                                payment_id: pid,
                                payment,
                            });
                        }
                        writes.push(Write::Snapshot {
                            channel_id: id,
                            snapshot: Box::new(p.snapshot),
                        });
                    }
                    Output::Send(m) => self.send(Frame::Channel(m)),
                    Output::Event(e) => {
                        if let Some(more) = self.on_event(id, e, now) {
                            ids.push(more);
                        }
                    }
                }
            }
            if seqs.is_empty() {
                continue;
            }
            if let Some(store) = &self.store {
                tracing::debug!(client = %self.signer.address(), n = writes.len(), "client writing");
                if let Err(e) = store.write_batch(&writes).await {
                    // Nothing that depends on these writes is released.
                    tracing::warn!(error = %e, "client write failed");
                    continue;
                }
                tracing::debug!(client = %self.signer.address(), "client wrote");
            }
            if let Some(ch) = self.channels.get_mut(&id) {
                ch.handle_persisted(*seqs.last().expect("non-empty"));
            }
            ids.push(id);
        }
    }

    /// Reacts to a channel event; returns a channel that has new outputs.
    fn on_event(&mut self, id: B256, e: Event, now: u64) -> Option<B256> {
        let mut touched = None;
        match &e {
            Event::Updated {
                op:
                    Op::AddHtlc {
                        id: hid,
                        amount,
                        payment_hash,
                        ..
                    },
                by: Side::B,
                ..
            } => {
                let ch = self.channels.get_mut(&id)?;
                // Settle only what pays an unpaid invoice in full; anything else (a second
                // payment of a paid invoice, too little, an unknown hash) is given back at once.
                let paid = ch.ledger().payment(payment_hash).is_some();
                let fail = Op::FailHtlc { id: *hid };
                let op = match self.invoices.get(payment_hash) {
                    Some((preimage, due)) if amount >= due && !paid => Op::SettleHtlc {
                        id: *hid,
                        preimage: *preimage,
                    },
                    _ => fail.clone(),
                };
                let settling = op != fail;
                if let Err(e) = ch.propose(op, now) {
                    tracing::warn!(channel = %id, htlc = hid, error = %e, "cannot settle; failing");
                    if settling {
                        if let Err(e) = ch.propose(fail, now) {
                            tracing::warn!(channel = %id, htlc = hid, error = %e, "cannot fail");
                        }
                    }
                }
                touched = Some(id);
            }
            Event::Updated {
                op: Op::SettleHtlc { preimage, .. },
                by: Side::B,
                ..
            } => {
                if let Some(r) = self.payments.remove(&payment_hash(preimage)) {
                    let _ = r.send(Ok(*preimage));
                }
            }
            Event::Updated {
                op: Op::FailHtlc { .. } | Op::ExpireHtlc { .. },
                resolved: Some(h),
                ..
            } => {
                if let Some(r) = self.payments.remove(&h.payment_hash) {
                    let _ = r.send(Err(ClientError::PaymentFailed(
                        "the payment did not reach the merchant".into(),
                    )));
                }
            }
            Event::ProposalRejected {
                op: Op::AddHtlc { payment_hash, .. },
                reason,
            } => {
                if let Some(r) = self.payments.remove(payment_hash) {
                    let _ = r.send(Err(ClientError::PaymentFailed(format!("{reason:?}"))));
                }
            }
            _ => {}
        }
        if let Event::Updated { op, by, .. } = e {
            let _ = self.events.send(ClientEvent::Updated {
                channel_id: id,
                op,
                by,
            });
        }
        touched
    }
}
