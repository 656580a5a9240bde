//! The hub's network face: the WebSocket endpoint speaking the session protocol, the merchant
//! HTTP API, `/health` and `/metrics`, behind one accept loop that bounds what a peer can hold
//! ([`FrontLimits`]).
//!
//! # Connections
//!
//! At most `max_connections` connections are open at once (HTTP and WebSocket alike); one more
//! is answered `503` with the `OVERLOADED` error body below and closed. A request head must
//! arrive within `header_timeout` (also between the requests of a keep-alive connection); an
//! HTTP connection with no byte read or written for `idle_timeout` is closed; a request,
//! reading its body included, must be answered within `request_timeout`; bodies are at most
//! `max_body_bytes`.
//!
//! # HTTP errors
//!
//! Every error response has one shape, `{"error":{"code":"…","message":"…"}}`, with a stable
//! `code` (the message is for humans and bounded; it never repeats the request beyond a short
//! prefix):
//!
//! | status | code |
//! |---|---|
//! | 400 | `BAD_REQUEST` (malformed query, body or header), `BAD_INVOICE`, `INVOICE_EXPIRED`, `WRONG_CHAIN`, `NOT_A_WEBSOCKET` |
//! | 401 | `UNAUTHORIZED` |
//! | 404 | `NOT_FOUND`, or the actor's refusal of an invoice (e.g. `NO_CHANNEL`) |
//! | 405 | `METHOD_NOT_ALLOWED` |
//! | 408 | `TIMEOUT` |
//! | 409 | `PAYMENT_HASH_TAKEN` |
//! | 413 | `BODY_TOO_LARGE` |
//! | 415 | `UNSUPPORTED_MEDIA_TYPE` |
//! | 429 | `TOO_MANY_INVOICES`, `TOO_MANY_HANDSHAKES` |
//! | 503 | `OVERLOADED` (connection cap), `SHUTTING_DOWN`, `DEGRADED` (`/health`, whose body also carries the status report) |
//!
//! # WebSocket session (`GET /ws`)
//!
//! One protocol: binary WebSocket messages, each one postcard frame of `l2pay::wire`
//! (`L2` magic, version, body; at most `MAX_FRAME` = 64 KiB). The hub sends
//! `Frame::Challenge`; the client's first frame must be `Frame::Auth` within
//! `handshake_timeout`; then `Welcome` and the channel protocol. A frame that does not decode
//! gets a `Frame::Error` with a bounded message and the connection stays open, up to
//! `max_bad_frames`. Every inbound message (binary, text, ping, pong) counts against the
//! connection's rate limit (`ws_messages_per_sec`, bursts of `ws_burst`). Unauthenticated
//! handshakes are capped per IP address and overall (`TOO_MANY_HANDSHAKES`).
//!
//! The hub ends a session with a close frame whose code says why:
//!
//! | code | when |
//! |---|---|
//! | 1000 normal | the key authenticated on a newer connection (reason `REPLACED`) |
//! | 1001 going away | the hub is shutting down |
//! | 1002 protocol error | a WebSocket protocol violation (e.g. an unmasked frame) |
//! | 1003 unsupported data | a text message (the protocol is binary only) |
//! | 1007 invalid data | a text message that is not UTF-8 |
//! | 1008 policy violation | rate limit (`RATE_LIMITED`), ban (`BANNED`), failed or missing authentication (`BAD_AUTH`, `AUTH_REQUIRED`, `AUTH_TIMEOUT`), too many malformed frames (`TOO_MANY_BAD_FRAMES`) |
//! | 1009 message too big | a message over 64 KiB |
//! | 1011 internal error | the hub could not go on (e.g. no randomness for a challenge) |
//!
//! The close reason is the error code; refusals that carry more (`BAD_AUTH`, `BANNED`) send a
//! `Frame::Error` first.

mod accept;
mod http;
pub mod limits;
mod ws;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use alloy::primitives::Address;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, watch};

pub use accept::serve;
pub use http::{api_challenge, MAX_CHANNELS_PAGE};
pub use limits::FrontLimits;

use crate::actor::Command;
use crate::metrics::Metrics;
use limits::HandshakeAdmission;

#[derive(Clone)]
pub struct AppState {
    pub hub: Address,
    pub chain_id: u64,
    pub adjudicator: Address,
    pub actor: mpsc::Sender<Command>,
    pub metrics: Arc<Metrics>,
    pub next_conn: Arc<AtomicU64>,
    /// Bearer token of the operator API (`GET /api/channels` over every client); none: off.
    pub operator_token: Option<String>,
    pub front: Front,
}

/// What the front shares between connections: its limits, the handshake admission and the
/// shutdown signal sessions watch.
#[derive(Clone)]
pub struct Front {
    pub limits: Arc<FrontLimits>,
    handshakes: HandshakeAdmission,
    stop: Arc<watch::Sender<bool>>,
}

impl Front {
    pub fn new(limits: FrontLimits) -> Self {
        let handshakes =
            HandshakeAdmission::new(limits.max_handshakes, limits.max_handshakes_per_ip);
        Front {
            limits: Arc::new(limits),
            handshakes,
            stop: Arc::new(watch::channel(false).0),
        }
    }

    /// Tells every connection that the hub is stopping.
    fn stop(&self) {
        self.stop.send_replace(true);
    }

    fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.front.limits.max_body_bytes;
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/health", get(http::health))
        .route("/metrics", get(http::metrics))
        .route("/api/info", get(http::info))
        .route("/api/invoices", post(http::create_invoice))
        .route("/api/payments", get(http::payments))
        .route("/api/channels", get(http::channels))
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::deadline,
        ))
        .layer(tower_http::cors::CorsLayer::permissive())
        .with_state(state)
}
