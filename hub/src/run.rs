//! Starting and stopping a hub: what the `l2pay-hub` binary does, as a library, so that other
//! programs (the one-command devnet) can run a hub in-process.
//!
//! ```no_run
//! # async fn demo(cfg: l2pay_hub::config::Config) -> anyhow::Result<()> {
//! l2pay_hub::run::run(cfg, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use l2pay::op::Policy;
use l2pay::router::{RouterLimits, RoutingPolicy};
use l2pay::signer::{LocalSigner, Signer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::actor::{Command, HubActor, HubLimits, HubSettings};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::server::{serve, AppState, Front};
use crate::store::{GroupCommit, Store};
use crate::watcher::Watcher;

/// Reads the hub key, or creates one from the OS CSPRNG (file mode 0600).
pub fn load_or_create_key(path: &Path) -> anyhow::Result<LocalSigner> {
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

/// A started hub: its actor and chain watcher run, its listener is bound; [`Hub::serve`]
/// accepts connections until shutdown.
pub struct Hub {
    /// The hub's key address (participant B of its channels).
    pub address: Address,
    pub chain_id: u64,
    pub adjudicator: Address,
    /// The address the listener is bound to (useful with port 0).
    pub local_addr: SocketAddr,
    /// The actor's command queue, for in-process callers (e.g. [`Command::Channels`]).
    pub actor: mpsc::Sender<Command>,
    pub store: Store,
    listener: TcpListener,
    state: AppState,
    tasks: Vec<JoinHandle<()>>,
}

impl Hub {
    /// Opens the store, loads the channels, starts the actor and the watcher and binds the
    /// listen address. Connections are accepted only once [`Hub::serve`] runs.
    pub async fn start(cfg: &Config) -> anyhow::Result<Hub> {
        std::fs::create_dir_all(&cfg.data_dir).context("creating the data dir")?;
        let signer = Arc::new(load_or_create_key(&cfg.key_file())?);
        let chain_key = PrivateKeySigner::from_bytes(&B256::from(signer.secret_bytes()))?;
        // Nonces come from the node for every transaction: alloy's default cached nonce
        // manager skips a nonce when gas estimation fails (a call that would revert, e.g. a
        // challenge that lost a race), which would leave every later transaction of the hub
        // stuck behind the gap.
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
                max_htlc_expiry_delta: cfg.max_htlc_expiry,
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
            tokens: cfg.tokens.clone(),
            limits: HubLimits {
                router: RouterLimits {
                    max_inflight_per_channel: cfg.max_inflight_per_channel,
                    ..RouterLimits::default()
                },
                max_unfunded_channels: cfg.max_unfunded_channels,
                unfunded_ttl_ms: cfg.unfunded_ttl.saturating_mul(1_000),
                max_invoices_per_channel: cfg.max_invoices_per_channel,
                ..HubLimits::default()
            },
        };
        settings
            .check()
            .map_err(|e| anyhow::anyhow!("hub configuration: {e}"))?;
        let front = cfg.front_limits();
        front
            .check()
            .map_err(|e| anyhow::anyhow!("hub configuration: {e}"))?;
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
        let mut tasks = vec![tokio::spawn(actor.run(rx))];
        let watcher = Watcher {
            provider,
            adjudicator: cfg.adjudicator,
            hub: signer.address(),
            store: store.clone(),
            actor: tx.clone(),
            poll: Duration::from_millis(cfg.poll_ms),
            confirmations: cfg.confirmations,
        };
        tasks.push(tokio::spawn(watcher.run()));

        let listener = TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("binding the listen address {}", cfg.listen))?;
        let local_addr = listener.local_addr()?;
        tracing::info!(addr = %local_addr, "listening");
        let state = AppState {
            hub: signer.address(),
            chain_id,
            adjudicator: cfg.adjudicator,
            actor: tx.clone(),
            metrics,
            next_conn: Arc::new(AtomicU64::new(1)),
            operator_token: cfg.operator_token.clone(),
            front: Front::new(front),
        };
        Ok(Hub {
            address: signer.address(),
            chain_id,
            adjudicator: cfg.adjudicator,
            local_addr,
            actor: tx,
            store,
            listener,
            state,
            tasks,
        })
    }

    /// Serves until `shutdown` completes, then closes the connections (WebSocket sessions
    /// with 1001 going away), stops the watcher and the actor and closes the store. Writes already durable stay durable; anything not yet
    /// committed is what a crash would lose too, which the hub recovers from at start.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Hub {
            listener,
            state,
            tasks,
            store,
            actor,
            ..
        } = self;
        let shutdown = async {
            shutdown.await;
            tracing::info!("stopping");
        };
        serve(listener, state, shutdown).await;
        drop(actor);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), store.close()).await;
        Ok(())
    }
}

/// Runs a hub until `shutdown` completes: [`Hub::start`] then [`Hub::serve`].
pub async fn run(cfg: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    Hub::start(&cfg).await?.serve(shutdown).await
}
