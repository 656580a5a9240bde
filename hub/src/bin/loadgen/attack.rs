//! The attack benchmark: the payments benchmark (honest shoppers paying honest merchants)
//! while authenticated adversaries attack the same hub from other source addresses:
//!
//! * **signature flooders** (`--attack-sig-flooders`): each holds a channel funded on chain and
//!   sends correctly framed proposals with signatures that do not verify, reconnecting when
//!   the hub disconnects or bars the key;
//! * **unfunded flooders** (`--attack-unfunded-flooders`): a fresh key per connection,
//!   a channel never opened on chain, and `Close` proposals on it;
//! * **ping flooders** (`--attack-ping-flooders`): authenticated sockets sending WebSocket pings
//!   above the per-connection message rate;
//! * **invoice flooders** (`--attack-invoice-flooders`): `POST /api/invoices` of correctly
//!   signed invoices from keys without a funded channel;
//! * **stalled sockets** (`--attack-stalled`): connections that send part of a request head
//!   and then nothing (half of them a byte every 2 s, slow-loris), reconnecting when closed.
//!
//! Reports the honest payments' throughput, p99 and failures next to what each attacker got,
//! and the hub's memory and descriptors before, right after and 10 s after the attack.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use anyhow::anyhow;
use futures_util::{SinkExt, StreamExt};
use l2pay::invoice::InvoiceRequest;
use l2pay::op::Op;
use l2pay::session::Frame;
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::ChannelParams;
use l2pay::wire::{decode_frame, encode_frame, Message, Propose};
use l2pay_chain::AdjudicatorClient;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::raw::{self, HubInfo};
use super::{proc_status_kb, random_b256, random_signer, set_balance, wallet, Args, Env, ETH};

/// What one kind of attacker did and what the hub answered.
#[derive(Default)]
struct Stats {
    /// Messages (or requests) sent.
    sent: AtomicU64,
    /// Connections the hub accepted (authenticated, for the WebSocket attackers).
    connections: AtomicU64,
    /// Connection or authentication attempts the hub refused, by reason.
    refused: Mutex<BTreeMap<String, u64>>,
    /// Error codes (or HTTP statuses) the hub answered with, by code.
    answers: Mutex<BTreeMap<String, u64>>,
    /// Connections the hub closed.
    closed_by_hub: AtomicU64,
}

impl Stats {
    fn count(map: &Mutex<BTreeMap<String, u64>>, key: String) {
        if let Ok(mut m) = map.lock() {
            *m.entry(key).or_insert(0) += 1;
        }
    }

    fn report(&self) -> serde_json::Value {
        let map = |m: &Mutex<BTreeMap<String, u64>>| {
            m.lock()
                .map(|m| json!(m.clone()))
                .unwrap_or(serde_json::Value::Null)
        };
        json!({
            "sent": self.sent.load(Ordering::Relaxed),
            "connections": self.connections.load(Ordering::Relaxed),
            "refused": map(&self.refused),
            "answers": map(&self.answers),
            "closed_by_hub": self.closed_by_hub.load(Ordering::Relaxed),
        })
    }
}

/// The attack's shared context.
struct Ctx {
    url: String,
    dst: SocketAddr,
    http_url: String,
    stop: AtomicBool,
}

/// Attacker `i`'s source address: 127.0.0.10 .. 127.0.0.209 (the honest clients use 127.0.0.1).
fn source(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 10 + (i % 200) as u8)
}

/// Sends what `next` makes on an authenticated socket at `rate` per second until the hub closes
/// it or the attack stops; counts the hub's error codes.
async fn flood(
    ctx: &Ctx,
    stats: &Stats,
    ws: raw::Ws,
    rate: u32,
    mut next: impl FnMut() -> Option<WsMessage>,
) {
    let (mut tx, mut rx) = ws.split();
    let gone = Arc::new(AtomicBool::new(false));
    let reader = {
        let gone = gone.clone();
        async move {
            while let Some(Ok(m)) = rx.next().await {
                if let WsMessage::Binary(b) = m {
                    if let Ok(Frame::Error { code, .. }) = decode_frame(&b) {
                        Stats::count(&stats.answers, code);
                    }
                }
            }
            gone.store(true, Ordering::Relaxed);
        }
    };
    let writer = async move {
        // Batches every 10 ms: `rate` per second without a timer per message.
        let per_tick = (rate / 100).max(1);
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        'send: while !ctx.stop.load(Ordering::Relaxed) && !gone.load(Ordering::Relaxed) {
            tick.tick().await;
            for _ in 0..per_tick {
                let Some(m) = next() else { break 'send };
                if tx.send(m).await.is_err() {
                    break 'send;
                }
                stats.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        let _ = tx.close().await;
    };
    tokio::join!(reader, writer);
    if !ctx.stop.load(Ordering::Relaxed) {
        stats.closed_by_hub.fetch_add(1, Ordering::Relaxed);
    }
}

/// Authenticates `signer` from `src`, counting a refusal; `None` when refused.
async fn connect(ctx: &Ctx, stats: &Stats, src: Ipv4Addr, signer: &LocalSigner) -> Option<raw::Ws> {
    match raw::authed(&ctx.url, ctx.dst, src, signer).await {
        Ok((ws, _)) => {
            stats.connections.fetch_add(1, Ordering::Relaxed);
            Some(ws)
        }
        Err(e) => {
            Stats::count(&stats.refused, e.to_string());
            // Refused at once: do not spin a core on reconnects.
            tokio::time::sleep(Duration::from_millis(5)).await;
            None
        }
    }
}

fn proposal(channel_id: alloy::primitives::B256, op: Op, signer: &LocalSigner) -> WsMessage {
    let f = Frame::Channel(Message::Propose(Propose {
        channel_id,
        base_nonce: 0,
        nonce: 1,
        op,
        // A real signature by the channel's owner, over a digest the hub will not compute.
        sig: signer.sign_digest(&random_b256()),
        base_sig: None,
    }));
    WsMessage::Binary(encode_frame(&f).unwrap_or_default().into())
}

/// A funded channel's owner sending bad signatures, reconnecting whenever it can.
async fn sig_flooder(
    ctx: &Ctx,
    stats: &Stats,
    i: usize,
    rate: u32,
    who: (LocalSigner, ChannelParams),
) {
    let (signer, params) = who;
    let id = params.channel_id();
    while !ctx.stop.load(Ordering::Relaxed) {
        let Some(mut ws) = connect(ctx, stats, source(i), &signer).await else {
            continue;
        };
        if raw::register(&mut ws, &params).await.is_err() {
            continue;
        }
        // A close is a valid op on the agreed state: only the signature check refuses it.
        flood(ctx, stats, ws, rate, || {
            Some(proposal(id, Op::Close, &signer))
        })
        .await;
    }
}

/// Fresh keys, channels never opened on chain, `Close` proposals on them.
async fn unfunded_flooder(ctx: &Ctx, stats: &Stats, i: usize, rate: u32, info: HubInfo) {
    while !ctx.stop.load(Ordering::Relaxed) {
        let signer = random_signer();
        let Some(mut ws) = connect(ctx, stats, source(i), &signer).await else {
            continue;
        };
        let params = raw::native_params(&info, &signer, random_b256());
        if let Err(e) = raw::register(&mut ws, &params).await {
            Stats::count(&stats.refused, format!("register: {e}"));
            continue;
        }
        let id = params.channel_id();
        flood(ctx, stats, ws, rate, || {
            Some(proposal(id, Op::Close, &signer))
        })
        .await;
    }
}

/// Authenticated sockets sending pings at `rate`.
async fn ping_flooder(ctx: &Ctx, stats: &Stats, i: usize, rate: u32) {
    while !ctx.stop.load(Ordering::Relaxed) {
        let signer = random_signer();
        let Some(ws) = connect(ctx, stats, source(i), &signer).await else {
            continue;
        };
        flood(ctx, stats, ws, rate, || {
            Some(WsMessage::Ping(Vec::new().into()))
        })
        .await;
    }
}

/// `POST /api/invoices` of signed invoices from keys without a funded channel, at `rate`.
async fn invoice_flooder(ctx: &Ctx, stats: &Stats, i: usize, rate: u32, info: HubInfo) {
    let per_tick = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !ctx.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let requests = (0..per_tick).map(|_| async {
            let signer = random_signer();
            let invoice = InvoiceRequest {
                chain_id: info.chain_id,
                amount: 1_000,
                token: Address::ZERO,
                payment_hash: random_b256(),
                expiry: l2pay_hub::actor::now_ms() / 1_000 + 600,
                merchant: signer.address(),
                hub_url: ctx.http_url.clone(),
                description: "flood".into(),
            }
            .sign(&signer)
            .and_then(|i| i.encode());
            let Ok(invoice) = invoice else { return };
            let body = json!({ "invoice": invoice }).to_string();
            stats.sent.fetch_add(1, Ordering::Relaxed);
            match raw::http(ctx.dst, source(i), "POST", "/api/invoices", &body).await {
                Ok((status, _)) => Stats::count(&stats.answers, status.to_string()),
                Err(e) => Stats::count(&stats.refused, e.to_string()),
            }
        });
        futures_util::future::join_all(requests).await;
    }
}

/// A connection that sends part of a request head and stalls (`trickle`: a byte every 2 s);
/// reconnects when the hub closes it.
async fn stalled(ctx: &Ctx, stats: &Stats, i: usize, trickle: bool) {
    while !ctx.stop.load(Ordering::Relaxed) {
        let Ok(mut s) = raw::tcp_from(ctx.dst, source(i)).await else {
            Stats::count(&stats.refused, "connect".into());
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        stats.connections.fetch_add(1, Ordering::Relaxed);
        if s.write_all(b"GET /ws HTTP/1.1\r\nHost: hub\r\nX-Slow: ")
            .await
            .is_err()
        {
            continue;
        }
        let mut buf = [0u8; 512];
        loop {
            let wait = tokio::time::sleep(Duration::from_secs(2));
            tokio::select! {
                r = s.read(&mut buf) => {
                    // Anything back (a 408 or 503) or the close: the hub dealt with it.
                    if let Ok(n) = r {
                        if n > 0 {
                            let head = String::from_utf8_lossy(&buf[..n]);
                            let status = head.split_whitespace().nth(1).unwrap_or("?").to_string();
                            Stats::count(&stats.answers, status);
                        }
                    }
                    stats.closed_by_hub.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                _ = wait => {
                    if ctx.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if trickle {
                        stats.sent.fetch_add(1, Ordering::Relaxed);
                        if s.write_all(b"a").await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Opens `n` channels on chain (a fresh key each, 0.01 ETH) for the signature flooders.
async fn funded_keys(
    env: &Env,
    info: &HubInfo,
    n: usize,
) -> anyhow::Result<Vec<(LocalSigner, ChannelParams)>> {
    let reader: DynProvider = ProviderBuilder::new()
        .connect_http(env.rpc_url.parse()?)
        .erased();
    let mut out = vec![];
    for _ in 0..n {
        let key = random_b256();
        let signer = LocalSigner::from_bytes(&key.0).map_err(|e| anyhow!("{e}"))?;
        set_balance(&reader, signer.address(), U256::from(ETH)).await?;
        let params = raw::native_params(info, &signer, random_b256());
        AdjudicatorClient::new(env.adjudicator, wallet(&env.rpc_url, key)?)
            .open(&params, ETH / 100)
            .await
            .map_err(|e| anyhow!("open: {e}"))?;
        out.push((signer, params));
    }
    Ok(out)
}

/// Runs `attacker` once the honest payments' timed window starts.
fn start(
    tasks: &mut JoinSet<()>,
    go: &watch::Receiver<bool>,
    attacker: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let mut go = go.clone();
    tasks.spawn(async move {
        if go.wait_for(|g| *g).await.is_ok() {
            attacker.await
        }
    });
}

fn fds(pid: Option<u32>) -> Option<usize> {
    pid.and_then(|p| {
        std::fs::read_dir(format!("/proc/{p}/fd"))
            .ok()
            .map(|d| d.count())
    })
}

pub async fn attack(args: &Args, env: &Env) -> anyhow::Result<serde_json::Value> {
    let dst = raw::hub_addr(&env.ws_url)?;
    let ctx = Arc::new(Ctx {
        url: env.ws_url.clone(),
        dst,
        http_url: format!("http://{dst}"),
        stop: AtomicBool::new(false),
    });
    let probe = random_signer();
    let (_, info) = raw::authed(&ctx.url, dst, source(0), &probe).await?;
    let funded = funded_keys(env, &info, args.attack_sig_flooders).await?;
    let kinds = ["signature", "unfunded", "ping", "invoice", "stalled"];
    let stats: Arc<BTreeMap<&'static str, Stats>> =
        Arc::new(kinds.iter().map(|k| (*k, Stats::default())).collect());
    let (go_tx, go_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut n = 0;
    for who in funded {
        let (c, s, i, rate) = (ctx.clone(), stats.clone(), n, args.attack_rate);
        n += 1;
        start(&mut tasks, &go_rx, async move {
            sig_flooder(&c, &s["signature"], i, rate, who).await
        });
    }
    for _ in 0..args.attack_unfunded_flooders {
        let (c, s, i, rate) = (ctx.clone(), stats.clone(), n, args.attack_rate);
        n += 1;
        start(&mut tasks, &go_rx, async move {
            unfunded_flooder(&c, &s["unfunded"], i, rate, info).await
        });
    }
    for _ in 0..args.attack_ping_flooders {
        let (c, s, i, rate) = (ctx.clone(), stats.clone(), n, args.attack_ping_rate);
        n += 1;
        start(&mut tasks, &go_rx, async move {
            ping_flooder(&c, &s["ping"], i, rate).await
        });
    }
    for _ in 0..args.attack_invoice_flooders {
        let (c, s, i, rate) = (ctx.clone(), stats.clone(), n, args.attack_http_rate);
        n += 1;
        start(&mut tasks, &go_rx, async move {
            invoice_flooder(&c, &s["invoice"], i, rate, info).await
        });
    }
    for k in 0..args.attack_stalled {
        let (c, s, i) = (ctx.clone(), stats.clone(), n + k);
        start(&mut tasks, &go_rx, async move {
            // Spread the connects over the first two seconds.
            tokio::time::sleep(Duration::from_millis((k % 200) as u64 * 10)).await;
            stalled(&c, &s["stalled"], i, k % 2 == 1).await
        });
    }

    let pid = env.hub_pid;
    // "Before" is when the attack starts: the honest channels are open by then.
    let before = Arc::new(Mutex::new((None, None)));
    {
        let (mut go, before) = (go_rx.clone(), before.clone());
        tokio::spawn(async move {
            if go.wait_for(|go| *go).await.is_ok() {
                let now = (pid.and_then(|p| proc_status_kb(p, "VmRSS:")), fds(pid));
                if let Ok(mut b) = before.lock() {
                    *b = now;
                }
            }
        });
    }
    let honest = super::payments(args, env, Some(go_tx)).await?;
    let (rss_before, fds_before) = before.lock().map(|b| *b).unwrap_or((None, None));
    ctx.stop.store(true, Ordering::Relaxed);
    let rss_end = pid.and_then(|p| proc_status_kb(p, "VmRSS:"));
    let fds_end = fds(pid);
    // Attackers blocked on a read or a timer end within a few seconds; leave the rest behind.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rss_after = pid.and_then(|p| proc_status_kb(p, "VmRSS:"));
    let fds_after = fds(pid);
    let health = raw::http_get(dst, "/health").await.ok();
    let attackers: serde_json::Map<String, serde_json::Value> = stats
        .iter()
        .map(|(k, s)| (k.to_string(), s.report()))
        .collect();
    println!("attack: {}", serde_json::to_string(&attackers)?);
    println!(
        "  hub RSS {} (attack starts) → {} (ends) → {} KB (10 s later); fds {:?} → {:?} → {:?}",
        rss_before.unwrap_or(0),
        rss_end.unwrap_or(0),
        rss_after.unwrap_or(0),
        fds_before,
        fds_end,
        fds_after
    );
    Ok(json!({
        "benchmark": "attack",
        "honest": honest,
        "attackers": attackers,
        "rates": {
            "flood_per_s": args.attack_rate,
            "ping_per_s": args.attack_ping_rate,
            "invoice_posts_per_s": args.attack_http_rate,
        },
        "hub_rss_kb": { "before": rss_before, "end": rss_end, "after_10s": rss_after },
        "hub_fds": { "before": fds_before, "end": fds_end, "after_10s": fds_after },
        "hub_health_after": health,
    }))
}
