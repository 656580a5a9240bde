//! `l2pay-devnet`: the whole demo in one process tree. Starts anvil (adjudicator and the tUSD
//! test token deployed, demo shopper accounts funded), a hub in-process on embedded SQLite, a
//! demo merchant with a funded tUSD channel, and an HTTP server for the pages in `www/`,
//! `/devnet.json` and the merchant API. Ctrl-C or SIGTERM stops everything, anvil included.

mod chain;
mod error;
mod merchant;
mod web;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use l2pay_hub::config::Config;
use l2pay_hub::run::Hub;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;

use chain::{LocalChain, FUNDING_ACCOUNTS, HUB_ACCOUNT, MERCHANT_ACCOUNT};
use merchant::Merchant;
use web::{AppState, DevnetInfo};

/// Challenge period the demo pages use for shoppers' channels (seconds).
const SHOPPER_CHALLENGE_PERIOD: u64 = 120;
/// Shortest challenge period the devnet hub accepts (the adjudicator's own minimum).
const MIN_CHALLENGE_PERIOD: u64 = l2pay::state::MIN_CHALLENGE_PERIOD;
/// Marks a data dir as the devnet's own, so that only such a dir is wiped at start.
const MARKER: &str = ".l2pay-devnet";

#[derive(Debug, Parser)]
#[command(
    name = "l2pay-devnet",
    about = "One-command l2pay devnet: anvil + adjudicator + tUSD, an in-process hub, a demo merchant, the demo pages"
)]
struct Args {
    /// HTTP port for the pages, /devnet.json and the merchant API (127.0.0.1).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Hub port (WebSocket at /ws and its HTTP API; 127.0.0.1).
    #[arg(long, default_value_t = 9944)]
    hub_port: u16,
    /// anvil's JSON-RPC port (127.0.0.1).
    #[arg(long, default_value_t = 8545)]
    chain_port: u16,
    /// State directory, wiped at every start (the chain is fresh each run) [default: .devnet/
    /// in the repository].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Directory of the pages served at / [default: www/ in the repository].
    #[arg(long)]
    www: Option<PathBuf>,
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("devnet/ is inside the repository")
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,l2pay_devnet=info,l2pay_hub=info".into()),
        )
        .init();
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(run(args));
    // Connection tasks still running are dropped with the runtime.
    rt.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("l2pay-devnet: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on the first SIGINT or SIGTERM.
async fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Handlers first: a signal during start-up also stops everything started so far.
    let stop = stop_signal().await?;
    tokio::pin!(stop);
    let started = Instant::now();
    let devnet = tokio::select! {
        r = start(&args) => r?,
        sig = &mut stop => {
            println!("l2pay devnet: {sig} during start-up; stopped");
            return Ok(());
        }
    };
    let url = format!("http://127.0.0.1:{}/", devnet.http_port);
    println!(
        "l2pay devnet: started in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("l2pay devnet ready: open {url}");
    println!(
        "L2PAY_DEVNET_READY {}",
        serde_json::to_string(devnet.info.as_ref())?
    );
    let sig = stop.await;
    println!("l2pay devnet: {sig}, stopping");
    devnet.stop().await;
    println!("l2pay devnet: stopped");
    Ok(())
}

/// Everything the devnet runs, in the order it is stopped.
struct Running {
    info: Arc<DevnetInfo>,
    http_port: u16,
    http_stop: oneshot::Sender<()>,
    http: tokio::task::JoinHandle<()>,
    merchant: Arc<Merchant>,
    hub_stop: oneshot::Sender<()>,
    hub: tokio::task::JoinHandle<anyhow::Result<()>>,
    chain: LocalChain,
}

impl Running {
    async fn stop(self) {
        let _ = self.http_stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.http).await;
        self.merchant.client.shutdown().await;
        let _ = self.hub_stop.send(());
        match tokio::time::timeout(Duration::from_secs(10), self.hub).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "hub stopped with an error"),
            Ok(_) => {}
            Err(_) => tracing::warn!("hub did not stop within 10 s"),
        }
        let pid = self.chain.pid();
        // SIGTERM, then waits for anvil to exit (blocking: run it off the runtime's workers).
        let _ = tokio::task::spawn_blocking(move || drop(self.chain)).await;
        tracing::info!(pid, "anvil stopped");
    }
}

/// Fails early, with a useful message, when a port is taken.
async fn check_free(port: u16, what: &str, flag: &str) -> anyhow::Result<()> {
    TcpListener::bind(("127.0.0.1", port)).await.map(drop).with_context(|| {
        format!("127.0.0.1:{port} ({what}) is in use: is another devnet running? Choose another port with {flag}")
    })
}

/// Empties the data dir if it is the devnet's own (or creates it); refuses any other dir.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    chain::stop_stale_anvil(&dir.join("anvil.pid"));
    if dir.exists() {
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            anyhow::bail!(
                "{} is not empty and is not a devnet data dir ({MARKER} missing): not wiping it",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("wiping {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(MARKER),
        "l2pay devnet state; wiped at every start\n",
    )?;
    // Keeps the state out of `git status` when it lives in the repository.
    std::fs::write(dir.join(".gitignore"), "*\n")?;
    Ok(())
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn start(args: &Args) -> anyhow::Result<Running> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| repo_root().join(".devnet"));
    let www = args.www.clone().unwrap_or_else(|| repo_root().join("www"));
    anyhow::ensure!(www.is_dir(), "no pages directory {}", www.display());
    let http_listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| {
            format!(
                "127.0.0.1:{} (the pages) is in use: is another devnet running? Choose another port with --port",
                args.port
            )
        })?;
    check_free(args.hub_port, "the hub", "--hub-port").await?;
    prepare_data_dir(&data_dir)?;
    check_free(args.chain_port, "anvil", "--chain-port").await?;

    let chain = LocalChain::spawn(args.chain_port, &data_dir.join("anvil.pid")).await?;
    let chain_id = chain::chain_id(&chain.provider).await?;
    println!("anvil: {} (chain id {chain_id})", chain.endpoint());
    let deployment = chain::deploy(&chain).await?;
    println!(
        "adjudicator: {}  tUSD: {}",
        deployment.adjudicator, deployment.token
    );

    std::fs::write(
        data_dir.join("hub.key"),
        alloy::hex::encode(chain.key(HUB_ACCOUNT)),
    )?;
    let hub_listen = format!("127.0.0.1:{}", args.hub_port);
    let poll_ms = "200";
    let min_challenge = MIN_CHALLENGE_PERIOD.to_string();
    // tUSD, and the native coin for pages that open channels in it.
    let tokens = format!("{},{}", deployment.token, alloy::primitives::Address::ZERO);
    let cfg = Config::try_parse_from([
        "l2pay-hub",
        "--listen",
        &hub_listen,
        "--data-dir",
        &data_dir.display().to_string(),
        "--database-url",
        &sqlite_url(&data_dir.join("hub.sqlite")),
        "--rpc-url",
        &chain.endpoint(),
        "--adjudicator",
        &deployment.adjudicator.to_string(),
        "--key-file",
        &data_dir.join("hub.key").display().to_string(),
        "--fee-base",
        "0",
        "--fee-ppm",
        "0",
        "--min-challenge-period",
        &min_challenge,
        "--poll-ms",
        poll_ms,
        "--token",
        &tokens,
        // anvil mines a block per transaction and none otherwise: act at the head.
        "--confirmations",
        "0",
    ])
    .context("hub configuration")?;
    let hub = Hub::start(&cfg).await?;
    let hub_addr: SocketAddr = hub.local_addr;
    let hub_actor = hub.actor.clone();
    let hub_address = hub.address;
    anyhow::ensure!(
        hub_address == chain.address(HUB_ACCOUNT),
        "hub key is not anvil account {HUB_ACCOUNT}"
    );
    let (hub_stop, hub_stop_rx) = oneshot::channel::<()>();
    let hub_task = tokio::spawn(hub.serve(async {
        let _ = hub_stop_rx.await;
    }));
    let hub_ws = format!("ws://{hub_addr}/ws");
    println!("hub: {hub_ws} ({hub_address})");

    let merchant = Arc::new(
        Merchant::start(
            &chain,
            deployment,
            &hub_ws,
            &sqlite_url(&data_dir.join("merchant.sqlite")),
        )
        .await
        .context("starting the demo merchant")?,
    );
    println!(
        "merchant: {} (channel {})",
        merchant.address(),
        merchant.channel_id
    );

    let info = Arc::new(DevnetInfo {
        chain_id,
        rpc_url: chain.endpoint(),
        adjudicator: deployment.adjudicator,
        token: deployment.token,
        token_symbol: chain::TOKEN_SYMBOL,
        token_decimals: chain::TOKEN_DECIMALS,
        hub_url: hub_ws,
        hub_http: format!("http://{hub_addr}"),
        hub_address,
        merchant_address: chain.address(MERCHANT_ACCOUNT),
        challenge_period: SHOPPER_CHALLENGE_PERIOD,
        funding_accounts: FUNDING_ACCOUNTS.map(|i| chain.address(i)).collect(),
    });
    let state = AppState {
        info: info.clone(),
        merchant: merchant.clone(),
        hub: hub_actor,
        provider: chain.provider.clone(),
        www,
    };
    let http_port = http_listener.local_addr()?.port();
    let (http_stop, http_stop_rx) = oneshot::channel::<()>();
    let app = web::router(state);
    let http = tokio::spawn(async move {
        tokio::select! {
            r = axum::serve(http_listener, app) => {
                if let Err(e) = r {
                    tracing::error!(error = %e, "HTTP server failed");
                }
            }
            _ = http_stop_rx => {}
        }
    });
    Ok(Running {
        info,
        http_port,
        http_stop,
        http,
        merchant,
        hub_stop,
        hub: hub_task,
        chain,
    })
}
