//! Configuration by flags and environment, with defaults for a local devnet.

use std::path::PathBuf;

use alloy::primitives::Address;
use clap::Parser;

#[derive(Clone, Debug, Parser)]
#[command(
    name = "l2pay-hub",
    about = "l2pay merchant hub: channels, HTLC routing, chain watching"
)]
pub struct Config {
    /// Address to listen on (WebSocket at /ws, HTTP API, /health, /metrics).
    #[arg(long, env = "L2PAY_LISTEN", default_value = "127.0.0.1:9944")]
    pub listen: String,
    /// Directory for the embedded database and the hub key.
    #[arg(long, env = "L2PAY_DATA_DIR", default_value = "l2pay-data")]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://… (default: SQLite in the data dir).
    #[arg(long, env = "L2PAY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// JSON-RPC URL of the chain.
    #[arg(long, env = "L2PAY_RPC_URL", default_value = "http://127.0.0.1:8545")]
    pub rpc_url: String,
    /// Address of the adjudicator contract.
    #[arg(long, env = "L2PAY_ADJUDICATOR")]
    pub adjudicator: Address,
    /// File holding the hub's secret key (hex); created with a CSPRNG if missing.
    #[arg(long, env = "L2PAY_HUB_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Routing fee: fixed part, in the token's smallest unit.
    #[arg(long, env = "L2PAY_FEE_BASE", default_value_t = 0)]
    pub fee_base: u128,
    /// Routing fee: proportional part, parts per million.
    #[arg(long, env = "L2PAY_FEE_PPM", default_value_t = 0)]
    pub fee_ppm: u32,
    /// Seconds between a forwarded HTLC's expiry and the incoming one's.
    #[arg(long, env = "L2PAY_EXPIRY_DELTA", default_value_t = 900)]
    pub expiry_delta: u64,
    /// Minimum seconds between an HTLC's addition and its expiry.
    #[arg(long, env = "L2PAY_MIN_HTLC_EXPIRY", default_value_t = 600)]
    pub min_htlc_expiry: u64,
    /// Go to chain this many seconds before an unsettled HTLC we hold the preimage of expires.
    #[arg(long, env = "L2PAY_CHAIN_MARGIN", default_value_t = 300)]
    pub chain_margin: u64,
    /// Shortest challenge period accepted on a channel, in seconds.
    #[arg(long, env = "L2PAY_MIN_CHALLENGE_PERIOD", default_value_t = 60)]
    pub min_challenge_period: u64,
    /// Most channels one client may register.
    #[arg(long, env = "L2PAY_MAX_CHANNELS_PER_CLIENT", default_value_t = 8)]
    pub max_channels_per_client: usize,
    /// How often the chain watcher polls, in milliseconds.
    #[arg(long, env = "L2PAY_POLL_MS", default_value_t = 500)]
    pub poll_ms: u64,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("hub.sqlite").display()))
    }

    pub fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("hub.key"))
    }
}
