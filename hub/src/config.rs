//! Configuration by flags and environment, with defaults for a local devnet.

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::Address;
use clap::Parser;

use crate::server::limits::{defaults, FrontLimits};

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
    /// Tokens the hub holds channels in (repeat the flag or separate with commas; the zero
    /// address is the chain's native coin). Channels in any other token are refused.
    #[arg(
        long = "token",
        env = "L2PAY_TOKENS",
        value_delimiter = ',',
        default_value = "0x0000000000000000000000000000000000000000"
    )]
    pub tokens: Vec<Address>,
    /// Longest HTLC expiry accepted, in seconds after the HTLC is added.
    #[arg(long, env = "L2PAY_MAX_HTLC_EXPIRY", default_value_t = l2pay::op::DEFAULT_MAX_HTLC_EXPIRY_DELTA)]
    pub max_htlc_expiry: u64,
    /// HTLCs one incoming channel may have forwarded and unresolved at once.
    #[arg(long, env = "L2PAY_MAX_INFLIGHT_PER_CHANNEL", default_value_t = 16)]
    pub max_inflight_per_channel: usize,
    /// Registered channels not yet funded on chain, over all clients (kept in memory only).
    #[arg(long, env = "L2PAY_MAX_UNFUNDED_CHANNELS", default_value_t = 10_000)]
    pub max_unfunded_channels: usize,
    /// Seconds an unfunded registration is kept.
    #[arg(long, env = "L2PAY_UNFUNDED_TTL", default_value_t = 3_600)]
    pub unfunded_ttl: u64,
    /// Unexpired invoices one merchant channel may have registered.
    #[arg(
        long,
        env = "L2PAY_MAX_INVOICES_PER_CHANNEL",
        default_value_t = 100_000
    )]
    pub max_invoices_per_channel: usize,
    /// Bearer token for the operator API (`GET /api/channels` over every client); unset: off.
    #[arg(long, env = "L2PAY_OPERATOR_TOKEN")]
    pub operator_token: Option<String>,
    /// Blocks mined on top of a deposit's or a close's block before the hub acts on it, and
    /// on top of a watchtower transaction's before it counts as final (0: at the head, for a
    /// local chain that mines a block per transaction).
    #[arg(long, env = "L2PAY_CONFIRMATIONS", default_value_t = 2)]
    pub confirmations: u64,
    /// Open connections (HTTP and WebSocket); beyond, a new one is answered 503 OVERLOADED.
    /// Keep it below the open-file limit (`ulimit -n`) with room for the database and RPC.
    #[arg(long, env = "L2PAY_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Milliseconds a request head may take to arrive (also between keep-alive requests).
    #[arg(long, env = "L2PAY_HEADER_TIMEOUT_MS", default_value_t = defaults::HEADER_TIMEOUT_MS)]
    pub header_timeout_ms: u64,
    /// Milliseconds an HTTP connection may carry no byte either way before it is closed; also
    /// the longest a WebSocket write waits for the peer.
    #[arg(long, env = "L2PAY_IDLE_TIMEOUT_MS", default_value_t = defaults::IDLE_TIMEOUT_MS)]
    pub idle_timeout_ms: u64,
    /// Milliseconds an HTTP request may take, reading its body included (408 TIMEOUT).
    #[arg(long, env = "L2PAY_REQUEST_TIMEOUT_MS", default_value_t = defaults::REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,
    /// Milliseconds from the WebSocket upgrade to a verified `Auth` frame.
    #[arg(long, env = "L2PAY_HANDSHAKE_TIMEOUT_MS", default_value_t = defaults::HANDSHAKE_TIMEOUT_MS)]
    pub handshake_timeout_ms: u64,
    /// Largest HTTP request body, in bytes (413 BODY_TOO_LARGE).
    #[arg(long, env = "L2PAY_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Largest HTTP request head, in bytes (at least 8192).
    #[arg(long, env = "L2PAY_MAX_HEADER_BYTES", default_value_t = defaults::MAX_HEADER_BYTES)]
    pub max_header_bytes: usize,
    /// Unauthenticated WebSocket handshakes in progress, over all peers.
    #[arg(long, env = "L2PAY_MAX_HANDSHAKES", default_value_t = defaults::MAX_HANDSHAKES)]
    pub max_handshakes: usize,
    /// Unauthenticated WebSocket handshakes in progress from one IP address.
    #[arg(long, env = "L2PAY_MAX_HANDSHAKES_PER_IP", default_value_t = defaults::MAX_HANDSHAKES_PER_IP)]
    pub max_handshakes_per_ip: usize,
    /// Inbound WebSocket messages (any kind) per second one connection may send on average.
    #[arg(long, env = "L2PAY_WS_MESSAGES_PER_SEC", default_value_t = defaults::WS_MESSAGES_PER_SEC)]
    pub ws_messages_per_sec: u32,
    /// Inbound WebSocket messages one connection may send in a burst.
    #[arg(long, env = "L2PAY_WS_BURST", default_value_t = defaults::WS_BURST)]
    pub ws_burst: u32,
    /// Malformed frames tolerated on one WebSocket connection before it is closed.
    #[arg(long, env = "L2PAY_MAX_BAD_FRAMES", default_value_t = defaults::MAX_BAD_FRAMES)]
    pub max_bad_frames: u32,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("hub.sqlite").display()))
    }

    /// The limits of the HTTP/WebSocket front.
    pub fn front_limits(&self) -> FrontLimits {
        FrontLimits {
            max_connections: self.max_connections,
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms),
            max_body_bytes: self.max_body_bytes,
            max_header_bytes: self.max_header_bytes,
            max_handshakes: self.max_handshakes,
            max_handshakes_per_ip: self.max_handshakes_per_ip,
            ws_messages_per_sec: self.ws_messages_per_sec,
            ws_burst: self.ws_burst,
            max_bad_frames: self.max_bad_frames,
        }
    }

    pub fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("hub.key"))
    }
}
