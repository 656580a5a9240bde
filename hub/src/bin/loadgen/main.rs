//! `loadgen`: load generator for the l2pay hub.
//!
//! Two benchmarks, both on loopback only and bounded in count and time:
//!
//! * **payments** (default): opens `--shoppers` funded shopper channels and `--merchants`
//!   merchant channels (liquidity deposited by the hub's account), pre-creates the invoices,
//!   then pays them through the hub over real WebSockets for `--duration` seconds, either as
//!   fast as `--concurrency` outstanding payments allow (`--rate 0`) or at `--rate` payments
//!   per second. Reports throughput, p50/p99/max latency of `pay_invoice` (HTLC sent →
//!   preimage back) and the hub's memory and CPU.
//! * **idle connections** (`--idle-connections K`): K lean clients (one key each) connect from
//!   source addresses 127.0.0.2.., authenticate, register one (unfunded) channel and hold the
//!   socket; reports the hub's resident memory per connected channel.
//!
//! * **attack** (`--attack`): the payments benchmark while authenticated adversaries flood
//!   the hub (bad signatures on funded channels, unfunded channels, pings, invoice posts,
//!   stalled sockets); see `attack.rs`.
//!
//! By default it starts anvil, deploys the adjudicator and runs the `l2pay-hub` binary next
//! to this one (`--hub-bin` to choose); `--rpc-url`/`--adjudicator` use an existing anvil and
//! `--ws-url` (with `--hub-key-file`, `--hub-pid`) an existing hub.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{anyhow, bail, Context};
use clap::Parser;
use futures_util::StreamExt;
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::Side;
use l2pay::Amount;
use l2pay_chain::{deploy_adjudicator, AdjudicatorClient, Devnet};
use l2pay_hub::client::HubClient;
use serde_json::json;

mod attack;
mod idle;
mod raw;
mod soak;

const ETH: Amount = 1_000_000_000_000_000_000;

#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen", about = "l2pay hub load generator (loopback only)")]
struct Args {
    /// The hub binary to start (default: `l2pay-hub` next to this executable).
    #[arg(long)]
    hub_bin: Option<PathBuf>,
    /// Use this running anvil instead of starting one (needs `--adjudicator` too).
    #[arg(long)]
    rpc_url: Option<String>,
    /// Adjudicator address on `--rpc-url` (deployed by loadgen when omitted).
    #[arg(long)]
    adjudicator: Option<Address>,
    /// Use this running hub (`ws://127.0.0.1:PORT/ws`) instead of starting one.
    #[arg(long)]
    ws_url: Option<String>,
    /// The running hub's key file (hex), for its liquidity deposits in merchant channels.
    #[arg(long)]
    hub_key_file: Option<PathBuf>,
    /// The running hub's process id, for memory and CPU readings.
    #[arg(long)]
    hub_pid: Option<u32>,
    /// Extra flag passed to a hub loadgen starts (repeatable), e.g. `--hub-arg=--poll-ms=200`.
    #[arg(long, allow_hyphen_values = true)]
    hub_arg: Vec<String>,
    /// RUST_LOG of a hub loadgen starts.
    #[arg(long, default_value = "warn")]
    hub_log: String,

    /// Shopper channels (each funded on chain).
    #[arg(long, default_value_t = 32)]
    shoppers: usize,
    /// Merchant channels (one merchant key each; the hub deposits their liquidity).
    #[arg(long, default_value_t = 4)]
    merchants: usize,
    /// Payments per second (open loop); 0 = as fast as `--concurrency` allows (closed loop).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Most payments outstanding at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of payments.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Most payments in one run (invoices are created before the clock starts).
    #[arg(long, default_value_t = 20_000)]
    max_payments: usize,
    /// Amount of each payment, in wei.
    #[arg(long, default_value_t = 1_000_000_000_000)]
    amount: u128,

    /// Idle-connection benchmark: connect, authenticate and register this many clients.
    #[arg(long)]
    idle_connections: Option<usize>,
    /// Source addresses for idle clients: 127.0.0.2 ..= 127.0.0.(1+N).
    #[arg(long, default_value_t = 8)]
    source_addrs: u8,
    /// Idle clients connecting at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Seconds to hold the idle connections before measuring.
    #[arg(long, default_value_t = 5)]
    hold: u64,
    /// Soak: with `--idle-connections K`, keep the K clients connected (each answering the
    /// hub) while the payments benchmark runs for `--duration`; report errors, dropped
    /// clients and the hub's memory every `--soak-sample` seconds.
    #[arg(long)]
    soak: bool,
    #[arg(long, default_value_t = 60)]
    soak_sample: u64,

    /// Attack benchmark: the payments benchmark (give it a `--rate`) while authenticated
    /// adversaries flood the hub from other source addresses (see `attack.rs`).
    #[arg(long)]
    attack: bool,
    /// Attackers whose channel is funded on chain, sending proposals with bad signatures.
    #[arg(long, default_value_t = 4)]
    attack_sig_flooders: usize,
    /// Attackers with fresh keys and unfunded channels, sending `Close` proposals.
    #[arg(long, default_value_t = 4)]
    attack_unfunded_flooders: usize,
    /// Attackers sending WebSocket pings at `--attack-ping-rate`.
    #[arg(long, default_value_t = 2)]
    attack_ping_flooders: usize,
    /// Attackers posting invoices of unfunded keys at `--attack-http-rate`.
    #[arg(long, default_value_t = 2)]
    attack_invoice_flooders: usize,
    /// Sockets that send part of a request head and stall.
    #[arg(long, default_value_t = 1_000)]
    attack_stalled: usize,
    /// Proposals per second of each signature and unfunded flooder.
    #[arg(long, default_value_t = 1_800)]
    attack_rate: u32,
    /// Pings per second of each ping flooder (the hub allows 2,000 messages/s per connection).
    #[arg(long, default_value_t = 5_000)]
    attack_ping_rate: u32,
    /// Invoice posts per second of each invoice flooder.
    #[arg(long, default_value_t = 200)]
    attack_http_rate: u32,

    /// Also write the JSON report to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

// ----------------------------------------------------------------------------------------
// process readings

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU seconds of a process.
fn proc_cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn random_b256() -> B256 {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("randomness");
    B256::from(b)
}

fn random_signer() -> LocalSigner {
    loop {
        if let Ok(s) = LocalSigner::from_bytes(&random_b256().0) {
            return s;
        }
    }
}

// ----------------------------------------------------------------------------------------
// environment: chain + hub

struct Env {
    _devnet: Option<Devnet>,
    rpc_url: String,
    adjudicator: Address,
    hub: Option<Child>,
    hub_pid: Option<u32>,
    hub_key: B256,
    ws_url: String,
    data_dir: Option<PathBuf>,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut c) = self.hub.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = &self.data_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A provider sending transactions from `key` (nonces read from the node each time).
fn wallet(rpc: &str, key: B256) -> anyhow::Result<DynProvider> {
    let signer = PrivateKeySigner::from_bytes(&key)?;
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_simple_nonce_management()
        .with_gas_estimation()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_http(rpc.parse()?)
        .erased())
}

/// Funds `who` with anvil's `anvil_setBalance` (no transaction, no nonce contention).
async fn set_balance(p: &DynProvider, who: Address, wei: U256) -> anyhow::Result<()> {
    let _: serde_json::Value = p
        .raw_request("anvil_setBalance".into(), (who, wei))
        .await
        .context("anvil_setBalance")?;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn default_hub_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("l2pay-hub")))
        .unwrap_or_else(|| PathBuf::from("target/release/l2pay-hub"))
}

async fn setup(args: &Args) -> anyhow::Result<Env> {
    let (devnet, rpc_url) = match &args.rpc_url {
        Some(u) => (None, u.clone()),
        None => {
            let d = Devnet::spawn_with_args(&["--accounts", "2"])
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let u = d.endpoint();
            (Some(d), u)
        }
    };
    let adjudicator = match (args.adjudicator, &devnet) {
        (Some(a), _) => a,
        (None, Some(d)) => deploy_adjudicator(&d.wallet(0))
            .await
            .map_err(|e| anyhow!("deploy: {e}"))?,
        (None, None) => {
            let deployer = random_b256();
            let w = wallet(&rpc_url, deployer)?;
            let addr = PrivateKeySigner::from_bytes(&deployer)?.address();
            set_balance(&w, addr, U256::from(ETH)).await?;
            deploy_adjudicator(&w)
                .await
                .map_err(|e| anyhow!("deploy: {e}"))?
        }
    };
    if let Some(ws_url) = &args.ws_url {
        let hub_key = match &args.hub_key_file {
            Some(p) => {
                let hex = std::fs::read_to_string(p)?;
                B256::from_slice(&alloy::hex::decode(hex.trim())?)
            }
            None => B256::ZERO,
        };
        return Ok(Env {
            _devnet: devnet,
            rpc_url,
            adjudicator,
            hub: None,
            hub_pid: args.hub_pid,
            hub_key,
            ws_url: ws_url.clone(),
            data_dir: None,
        });
    }
    let data_dir = std::env::temp_dir().join(format!("l2pay-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let hub_key = random_b256();
    std::fs::write(data_dir.join("hub.key"), alloy::hex::encode(hub_key))?;
    let hub_addr = PrivateKeySigner::from_bytes(&hub_key)?.address();
    let reader = ProviderBuilder::new()
        .connect_http(rpc_url.parse()?)
        .erased();
    set_balance(&reader, hub_addr, U256::from(1_000_000u128 * ETH)).await?;
    let port = free_port()?;
    let bin = args.hub_bin.clone().unwrap_or_else(default_hub_bin);
    let db = format!("sqlite://{}", data_dir.join("hub.sqlite").display());
    let child = Command::new(&bin)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--data-dir", &data_dir.display().to_string()])
        .args(["--database-url", &db])
        .args(["--rpc-url", &rpc_url])
        .args(["--adjudicator", &adjudicator.to_string()])
        .args(["--poll-ms", "100"])
        // anvil mines a block per transaction: act at the head unless told otherwise.
        .args(
            (!args
                .hub_arg
                .iter()
                .any(|a| a.starts_with("--confirmations")))
            .then_some(["--confirmations", "0"])
            .into_iter()
            .flatten(),
        )
        .args(&args.hub_arg)
        .env("RUST_LOG", &args.hub_log)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id();
    let env = Env {
        _devnet: devnet,
        rpc_url,
        adjudicator,
        hub: Some(child),
        hub_pid: Some(pid),
        hub_key,
        ws_url: format!("ws://127.0.0.1:{port}/ws"),
        data_dir: Some(data_dir),
    };
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(env);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the hub did not start listening on port {port}")
}

// ----------------------------------------------------------------------------------------
// payments benchmark

struct Party {
    client: HubClient,
    channel: B256,
}

/// Opens a channel on chain from a fresh funded key, has the hub add `hub_deposit`, registers
/// it and waits until the client sees both deposits.
async fn open_party(
    env: &Env,
    reader: &DynProvider,
    deposit: Amount,
    hub_deposit: Amount,
    hub_lock: &tokio::sync::Mutex<()>,
) -> anyhow::Result<Party> {
    let key = random_b256();
    let signer = Arc::new(LocalSigner::from_bytes(&key.0).map_err(|e| anyhow!("{e}"))?);
    set_balance(reader, signer.address(), U256::from(deposit + ETH)).await?;
    let client = HubClient::connect(&env.ws_url, signer, None)
        .await
        .map_err(|e| anyhow!("connect: {e}"))?;
    let params = client.channel_params(Address::ZERO, 3_600, random_b256());
    AdjudicatorClient::new(env.adjudicator, wallet(&env.rpc_url, key)?)
        .open(&params, deposit)
        .await
        .map_err(|e| anyhow!("open: {e}"))?;
    if hub_deposit > 0 {
        // One account's transactions one at a time: nonces are read from the node.
        let _g = hub_lock.lock().await;
        AdjudicatorClient::new(env.adjudicator, wallet(&env.rpc_url, env.hub_key)?)
            .deposit(&params, hub_deposit)
            .await
            .map_err(|e| anyhow!("hub deposit: {e}"))?;
    }
    let id = client
        .register(params)
        .await
        .map_err(|e| anyhow!("register: {e}"))?;
    client.chain_deposit(id, Side::A, deposit).await?;
    if hub_deposit > 0 {
        client.chain_deposit(id, Side::B, hub_deposit).await?;
    }
    for _ in 0..300 {
        if let Ok(Ok((s, _))) = tokio::time::timeout(Duration::from_secs(2), client.state(id)).await
        {
            if s.deposits == [deposit, hub_deposit] {
                return Ok(Party {
                    client,
                    channel: id,
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = client.state(id).await.map(|(s, _)| (s.nonce, s.deposits));
    bail!("channel {id} never saw its deposits [{deposit}, {hub_deposit}]; last (nonce, deposits): {last:?}")
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Samples the hub's VmRSS every 100 ms; returns the peak when stopped.
fn rss_sampler(
    pid: Option<u32>,
) -> (
    Arc<std::sync::atomic::AtomicBool>,
    tokio::task::JoinHandle<u64>,
) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let h = tokio::spawn(async move {
        let mut peak = 0;
        while !s.load(Ordering::Relaxed) {
            if let Some(kb) = pid.and_then(|p| proc_status_kb(p, "VmRSS:")) {
                peak = peak.max(kb);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    });
    (stop, h)
}

/// The payments benchmark; `started` is told when its timed window begins (the attack
/// benchmark starts its attackers then).
async fn payments(
    args: &Args,
    env: &Env,
    started: Option<tokio::sync::watch::Sender<bool>>,
) -> anyhow::Result<serde_json::Value> {
    let reader = ProviderBuilder::new()
        .connect_http(env.rpc_url.parse()?)
        .erased();
    let hub_lock = tokio::sync::Mutex::new(());
    let total = if args.rate > 0 {
        (args.rate * args.duration) as usize
    } else {
        args.max_payments
    }
    .min(args.max_payments);
    let amount = args.amount;
    let per_shopper = amount * (total as u128 / args.shoppers.max(1) as u128 + 2) * 2;
    let per_merchant = amount * (total as u128 / args.merchants.max(1) as u128 + 2) * 2;

    let t0 = Instant::now();
    // A channel that fails to open is reported and left out; the run needs at least one of each.
    let mut open_failures = vec![];
    let merchants: Vec<Party> = futures_util::stream::iter(0..args.merchants)
        .map(|_| open_party(env, &reader, ETH / 100, per_merchant, &hub_lock))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .filter_map(|r| {
            r.map_err(|e| open_failures.push(format!("merchant: {e}")))
                .ok()
        })
        .collect();
    let shoppers: Vec<Party> = futures_util::stream::iter(0..args.shoppers)
        .map(|_| open_party(env, &reader, per_shopper, 0, &hub_lock))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .filter_map(|r| {
            r.map_err(|e| open_failures.push(format!("shopper: {e}")))
                .ok()
        })
        .collect();
    for f in &open_failures {
        eprintln!("loadgen: channel open failed: {f}");
    }
    if merchants.is_empty() || shoppers.is_empty() {
        bail!("no merchant or no shopper channel opened");
    }
    let setup_secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "loadgen: {} merchant + {} shopper channels open and registered in {setup_secs:.1} s",
        merchants.len(),
        shoppers.len()
    );

    let t1 = Instant::now();
    let merchants = Arc::new(merchants);
    let invoices: Vec<String> = futures_util::stream::iter(0..total)
        .map(|i| {
            let m = merchants.clone();
            async move {
                m[i % m.len()]
                    .client
                    .create_invoice(amount, "loadgen", 3_600)
                    .await
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("invoice: {e}"))?;
    let invoice_secs = t1.elapsed().as_secs_f64();
    eprintln!(
        "loadgen: {total} invoices created in {invoice_secs:.1} s ({:.0}/s)",
        total as f64 / invoice_secs
    );

    let pid = env.hub_pid;
    let rss_before = pid.and_then(|p| proc_status_kb(p, "VmRSS:"));
    let hub_cpu0 = pid.and_then(proc_cpu_secs);
    let me = std::process::id();
    let my_cpu0 = proc_cpu_secs(me);
    let (stop, sampler) = rss_sampler(pid);
    if let Some(s) = started {
        let _ = s.send(true);
    }

    let queue = Arc::new(Mutex::new(invoices));
    let shoppers = Arc::new(shoppers);
    let next = Arc::new(AtomicUsize::new(0));
    let lat = Arc::new(Mutex::new(Vec::<u64>::with_capacity(total)));
    let failures = Arc::new(AtomicUsize::new(0));
    let sem = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.duration);
    let mut tasks = tokio::task::JoinSet::new();
    let mut interval = (args.rate > 0)
        .then(|| tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64)));
    if let Some(i) = interval.as_mut() {
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    }
    let mut saturated = 0usize;
    loop {
        if Instant::now() >= deadline {
            break;
        }
        if let Some(i) = interval.as_mut() {
            i.tick().await;
        }
        let permit = match interval {
            // Open loop: a payment that finds every slot busy counts as saturation.
            Some(_) => match sem.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    saturated += 1;
                    sem.clone().acquire_owned().await?
                }
            },
            None => tokio::select! {
                p = sem.clone().acquire_owned() => p?,
                _ = tokio::time::sleep_until(deadline.into()) => break,
            },
        };
        let Some(inv) = queue.lock().unwrap().pop() else {
            break;
        };
        let k = next.fetch_add(1, Ordering::Relaxed);
        let (shoppers, lat, failures) = (shoppers.clone(), lat.clone(), failures.clone());
        tasks.spawn(async move {
            let s = &shoppers[k % shoppers.len()];
            let t = Instant::now();
            let r = tokio::time::timeout(
                Duration::from_secs(30),
                s.client.pay_invoice(s.channel, &inv),
            )
            .await;
            let us = t.elapsed().as_micros() as u64;
            match r {
                Ok(Ok(_)) => lat.lock().unwrap().push(us),
                _ => {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    let issued_secs = start.elapsed().as_secs_f64();
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak_kb = sampler.await.unwrap_or(0);
    let hub_cpu = pid
        .and_then(proc_cpu_secs)
        .zip(hub_cpu0)
        .map(|(a, b)| a - b);
    let my_cpu = proc_cpu_secs(me).zip(my_cpu0).map(|(a, b)| a - b);
    let rss_after = pid.and_then(|p| proc_status_kb(p, "VmRSS:"));

    let mut l = std::mem::take(&mut *lat.lock().unwrap());
    l.sort_unstable();
    let ok = l.len();
    let ms = |us: u64| us as f64 / 1_000.0;
    let report = json!({
        "benchmark": "routed_payments",
        "shoppers": shoppers.len(),
        "merchants": merchants.len(),
        "channel_open_failures": open_failures,
        "mode": if args.rate > 0 { format!("open loop, {} /s", args.rate) } else { "closed loop".into() },
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "payments_ok": ok,
        "payments_failed": failures.load(Ordering::Relaxed),
        "open_loop_saturated_ticks": saturated,
        "elapsed_s": elapsed,
        "issue_window_s": issued_secs,
        "throughput_per_s": ok as f64 / elapsed,
        "latency_ms": {
            "p50": ms(percentile(&l, 0.50)),
            "p90": ms(percentile(&l, 0.90)),
            "p99": ms(percentile(&l, 0.99)),
            "max": ms(l.last().copied().unwrap_or(0)),
            "mean": if ok > 0 { ms(l.iter().sum::<u64>() / ok as u64) } else { 0.0 },
        },
        "hub_rss_kb": { "before": rss_before, "after": rss_after, "peak": peak_kb },
        "hub_cpu_s": hub_cpu,
        "hub_cpu_ms_per_payment": hub_cpu.map(|c| if ok > 0 { c * 1_000.0 / ok as f64 } else { 0.0 }),
        "loadgen_cpu_s": my_cpu,
        "loadgen_cpu_ms_per_payment": my_cpu.map(|c| if ok > 0 { c * 1_000.0 / ok as f64 } else { 0.0 }),
        "setup_s": setup_secs,
        "invoice_creation_per_s": total as f64 / invoice_secs,
        "loadavg_after": loadavg(),
    });
    println!(
        "routed payments: {ok} ok, {} failed in {elapsed:.1} s = {:.0} payments/s \
         (shoppers {}, merchants {}, {}, concurrency {})",
        failures.load(Ordering::Relaxed),
        ok as f64 / elapsed,
        shoppers.len(),
        merchants.len(),
        report["mode"].as_str().unwrap_or(""),
        args.concurrency,
    );
    println!(
        "  pay_invoice latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&l, 0.50)),
        ms(percentile(&l, 0.90)),
        ms(percentile(&l, 0.99)),
        ms(l.last().copied().unwrap_or(0)),
    );
    println!(
        "  hub: RSS {} MB after (peak {:.1} MB), CPU {} ; loadgen CPU {}",
        rss_after.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        peak_kb as f64 / 1024.0,
        hub_cpu.map_or("?".into(), |c| format!(
            "{c:.1} s ({:.2} ms/payment)",
            c * 1_000.0 / ok.max(1) as f64
        )),
        my_cpu.map_or("?".into(), |c| format!(
            "{c:.1} s ({:.2} ms/payment)",
            c * 1_000.0 / ok.max(1) as f64
        )),
    );
    Ok(report)
}

fn write_json(path: &Path, v: &serde_json::Value) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(v)? + "\n")?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let env = setup(&args).await?;
        let report = match args.idle_connections {
            Some(k) if args.soak => soak::soak(&args, &env, k).await?,
            Some(k) => idle::idle(&args, &env, k).await?,
            None if args.attack => attack::attack(&args, &env).await?,
            None => payments(&args, &env, None).await?,
        };
        println!("{}", serde_json::to_string(&report)?);
        if let Some(p) = &args.json {
            write_json(p, &report)?;
        }
        drop(env);
        Ok::<_, anyhow::Error>(())
    })?;
    // Dropping hundreds of thousands of sockets or client tasks can take a while; the report
    // is out, so leave without waiting for the runtime's shutdown.
    std::process::exit(0)
}
