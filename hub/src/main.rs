//! `l2pay-hub`: the merchant hub binary.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::B256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use clap::Parser;
use l2pay::op::Policy;
use l2pay::router::RoutingPolicy;
use l2pay::signer::{LocalSigner, Signer};
use l2pay_hub::actor::{HubActor, HubSettings};
use l2pay_hub::config::Config;
use l2pay_hub::metrics::Metrics;
use l2pay_hub::server::{serve, AppState};
use l2pay_hub::store::{GroupCommit, Store};
use l2pay_hub::watcher::Watcher;
use tokio::sync::mpsc;

/// Reads the hub key, or creates one from the OS CSPRNG (file mode 0600).
fn load_or_create_key(path: &std::path::Path) -> anyhow::Result<LocalSigner> {
    if let Ok(hex) = std::fs::read_to_string(path) {
        let bytes = alloy::hex::decode(hex.trim()).context("hub key file is not hex")?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("hub key must be 32 bytes"))?;
        return LocalSigner::from_bytes(&arr).map_err(|e| anyhow::anyhow!("hub key: {e}"));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let signer = LocalSigner::from_bytes(&secret).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, alloy::hex::encode(secret))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(signer)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cfg = Config::parse();
    std::fs::create_dir_all(&cfg.data_dir).context("creating the data dir")?;
    let signer = Arc::new(load_or_create_key(&cfg.key_file())?);
    let chain_key = PrivateKeySigner::from_bytes(&B256::from(signer.secret_bytes()))?;
    // Nonces come from the node for every transaction: alloy's default cached nonce manager
    // skips a nonce when gas estimation fails (a call that would revert, e.g. a challenge that
    // lost a race), which would leave every later transaction of the hub stuck behind the gap.
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_simple_nonce_management()
        .with_gas_estimation()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(chain_key))
        .connect_http(cfg.rpc_url.parse().context("rpc url")?)
        .erased();
    let chain_id = provider
        .get_chain_id()
        .await
        .context("reaching the chain")?;

    let store = Store::open(&cfg.database_url())
        .await
        .context("opening the database")?;
    let stored = store.load_channels().await?;
    let invoices = store.load_invoices().await?;
    let commit = GroupCommit::start(store.clone());
    let metrics = Arc::new(Metrics::default());
    let (tx, rx) = mpsc::channel(65_536);
    let settings = HubSettings {
        chain_id,
        adjudicator: cfg.adjudicator,
        policy: Policy {
            min_htlc_expiry_delta: cfg.min_htlc_expiry,
            chain_margin: cfg.chain_margin,
            ..Policy::default()
        },
        routing: RoutingPolicy {
            fee_base: cfg.fee_base,
            fee_ppm: cfg.fee_ppm,
            expiry_delta: cfg.expiry_delta,
        },
        min_challenge_period: cfg.min_challenge_period,
        max_channels_per_client: cfg.max_channels_per_client,
    };
    tracing::info!(hub = %signer.address(), chain_id, channels = stored.len(), "starting");
    let actor = HubActor::new(
        settings,
        signer.clone(),
        stored,
        invoices,
        commit,
        tx.clone(),
        metrics.clone(),
    );
    tokio::spawn(actor.run(rx));
    let watcher = Watcher {
        provider,
        adjudicator: cfg.adjudicator,
        store: store.clone(),
        actor: tx.clone(),
        poll: Duration::from_millis(cfg.poll_ms),
    };
    tokio::spawn(watcher.run());

    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .context("binding the listen address")?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let state = AppState {
        hub: signer.address(),
        chain_id,
        adjudicator: cfg.adjudicator,
        actor: tx,
        metrics,
        next_conn: Arc::new(AtomicU64::new(1)),
    };
    tokio::select! {
        r = serve(listener, state) => r?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
