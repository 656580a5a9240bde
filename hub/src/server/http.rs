//! The REST handlers and the one HTTP error shape, `{"error":{"code","message"}}`.

use alloy::primitives::{keccak256, Address, B256};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use l2pay::invoice::Invoice;
use l2pay::session::verify_auth;
use l2pay::signer::Signature;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;

use super::AppState;
use crate::actor::{now_ms, Command};
use crate::store::InvoiceRecord;

/// The actor turns at least once a second; beyond this it is stalled or gone.
const ACTOR_STALE_MS: u64 = 5_000;
/// The watcher asks the actor for work once per poll; beyond this it is stalled or gone.
const WATCHER_STALE_MS: u64 = 60_000;
/// How old an `x-l2pay-auth` timestamp may be, and how far in the future.
const AUTH_MAX_AGE_SECS: u64 = 300;
const AUTH_MAX_SKEW_SECS: u64 = 60;
/// Longest error message sent to a peer, in bytes.
pub const MAX_ERROR_MESSAGE: usize = 200;

/// `message` cut to at most [`MAX_ERROR_MESSAGE`] bytes (on a character boundary), so that an
/// error never carries more than a short prefix of what a peer sent.
pub fn bounded(message: &str) -> String {
    if message.len() <= MAX_ERROR_MESSAGE {
        return message.to_string();
    }
    let mut end = MAX_ERROR_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

/// An HTTP error response in the one shape, `{"error":{"code","message"}}`.
pub fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "error": { "code": code, "message": bounded(message) } });
    (status, Json(body)).into_response()
}

/// A rejected query string or body, with a stable code for its status.
fn rejection(status: StatusCode, text: &str) -> Response {
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "BODY_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        _ => "BAD_REQUEST",
    };
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    api_error(status, code, text)
}

fn query_rejection(r: QueryRejection) -> Response {
    rejection(r.status(), &r.body_text())
}

fn json_rejection(r: JsonRejection) -> Response {
    rejection(r.status(), &r.body_text())
}

pub async fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}

pub async fn method_not_allowed() -> Response {
    api_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "method not allowed on this endpoint",
    )
}

/// Every request, reading its body included, is answered within `request_timeout`.
pub async fn deadline(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(s.front.limits.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => api_error(
            StatusCode::REQUEST_TIMEOUT,
            "TIMEOUT",
            "the request took too long",
        ),
    }
}

/// `200 {"status":"ok"}` while the actor and the watcher are alive, otherwise `503` with
/// `"status":"degraded"`, which one is late (`lastBeatMsAgo`, `null` before the first) and
/// the error `DEGRADED`.
pub async fn health(State(s): State<AppState>) -> Response {
    let now = now_ms();
    let part = |beat: i64, stale: u64| {
        let ago = u64::try_from(beat)
            .ok()
            .filter(|b| *b > 0)
            .map(|b| now.saturating_sub(b));
        let ok = ago.is_some_and(|a| a <= stale);
        (ok, json!({ "ok": ok, "lastBeatMsAgo": ago }))
    };
    let (actor_ok, actor) = part(s.metrics.actor_heartbeat.get(), ACTOR_STALE_MS);
    let (watcher_ok, watcher) = part(s.metrics.watcher_heartbeat.get(), WATCHER_STALE_MS);
    let ok = actor_ok && watcher_ok;
    let mut body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "hub": s.hub,
        "channels": s.metrics.channels.get(),
        "actor": actor,
        "watcher": watcher,
    });
    if ok {
        return (StatusCode::OK, Json(body)).into_response();
    }
    body["error"] = json!({
        "code": "DEGRADED",
        "message": "the actor or the chain watcher is late",
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

pub async fn metrics(State(s): State<AppState>) -> String {
    s.metrics.render()
}

pub async fn info(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "hub": s.hub, "chainId": s.chain_id, "adjudicator": s.adjudicator }))
}

/// Sends the actor a command built around a reply channel and waits for the answer; a stopped
/// actor becomes a 503.
async fn ask<T>(
    s: &AppState,
    command: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Result<T, Response> {
    let (reply, rx) = oneshot::channel();
    let stopping = || {
        api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SHUTTING_DOWN",
            "hub is stopping",
        )
    };
    s.actor.send(command(reply)).await.map_err(|_| stopping())?;
    rx.await.map_err(|_| stopping())
}

#[derive(Deserialize)]
pub struct InvoiceBody {
    invoice: String,
}

/// Registers a merchant's invoice: the merchant's signature on it authenticates the request.
pub async fn create_invoice(
    State(s): State<AppState>,
    body: Result<Json<InvoiceBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(r) => return json_rejection(r),
    };
    let inv = match Invoice::decode(&body.invoice) {
        Ok(inv) => inv,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, "BAD_INVOICE", &e.to_string()),
    };
    if let Err(e) = inv.check_expiry(now_ms()) {
        return api_error(StatusCode::BAD_REQUEST, "INVOICE_EXPIRED", &e.to_string());
    }
    if inv.request.chain_id != s.chain_id {
        return api_error(
            StatusCode::BAD_REQUEST,
            "WRONG_CHAIN",
            "invoice is for another chain",
        );
    }
    let record = InvoiceRecord {
        payment_hash: inv.request.payment_hash,
        merchant: inv.request.merchant,
        // The actor picks the merchant's funded channel in the invoice's token.
        channel_id: B256::ZERO,
        amount: inv.request.amount,
        invoice: body.invoice,
        expiry: inv.request.expiry,
        created_at: now_ms() / 1_000,
    };
    let token = inv.request.token;
    match ask(&s, |reply| Command::Invoice {
        record,
        token,
        reply,
    })
    .await
    {
        Ok(Ok(channel_id)) => (
            StatusCode::CREATED,
            Json(json!({ "channelId": channel_id })),
        )
            .into_response(),
        Ok(Err(r)) => {
            let status = match r.code {
                "PAYMENT_HASH_TAKEN" => StatusCode::CONFLICT,
                "TOO_MANY_INVOICES" => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::NOT_FOUND,
            };
            api_error(status, r.code, &r.message)
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct PaymentsQuery {
    client: Address,
}

/// The payments on a client's channels. Authenticated: header
/// `x-l2pay-auth: <unix seconds>:<0x signature>` over the session auth digest with the
/// challenge `keccak256("l2pay-api:" ‖ seconds)`, at most 5 minutes old.
pub async fn payments(
    State(s): State<AppState>,
    q: Result<Query<PaymentsQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(r) => return query_rejection(r),
    };
    if let Err(m) = check_api_auth(&s, q.client, &headers) {
        return api_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", &m);
    }
    let client = q.client;
    match ask(&s, |reply| Command::Payments { client, reply }).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

/// The challenge an API request signs for time `secs`.
pub fn api_challenge(secs: u64) -> B256 {
    keccak256(format!("l2pay-api:{secs}"))
}

/// Whether an `x-l2pay-auth` timestamp is fresh at `now` (unix seconds): at most
/// [`AUTH_MAX_AGE_SECS`] old and [`AUTH_MAX_SKEW_SECS`] ahead, in checked arithmetic (a
/// timestamp near `u64::MAX` is simply not fresh).
fn fresh(secs: u64, now: u64) -> bool {
    let not_stale = secs
        .checked_add(AUTH_MAX_AGE_SECS)
        .is_some_and(|until| now <= until);
    let not_future = now
        .checked_add(AUTH_MAX_SKEW_SECS)
        .is_some_and(|latest| secs <= latest);
    not_stale && not_future
}

fn check_api_auth(s: &AppState, client: Address, headers: &HeaderMap) -> Result<(), String> {
    let h = headers
        .get("x-l2pay-auth")
        .and_then(|v| v.to_str().ok())
        .ok_or("missing x-l2pay-auth header")?;
    let (secs, sig) = h.split_once(':').ok_or("malformed x-l2pay-auth header")?;
    let secs: u64 = secs.parse().map_err(|_| "malformed timestamp")?;
    if !fresh(secs, now_ms() / 1_000) {
        return Err("stale or future timestamp".into());
    }
    let bytes = alloy::hex::decode(sig).map_err(|_| "malformed signature")?;
    let sig = Signature::from_slice(&bytes).map_err(|e| e.to_string())?;
    verify_auth(s.chain_id, s.hub, api_challenge(secs), client, &sig).map_err(|e| e.to_string())
}

/// Most channels one `GET /api/channels` page carries.
pub const MAX_CHANNELS_PAGE: usize = 500;

#[derive(Deserialize)]
pub struct ChannelsQuery {
    /// A client's own channels (authenticated with `x-l2pay-auth` as for `/api/payments`);
    /// without it, every channel, for the operator (`Authorization: Bearer <operator token>`).
    client: Option<Address>,
    /// Page cursor: the last channel id of the previous page.
    after: Option<B256>,
    limit: Option<usize>,
}

/// One page of channels, ordered by id: a client sees its own, the operator every one.
pub async fn channels(
    State(s): State<AppState>,
    q: Result<Query<ChannelsQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(r) => return query_rejection(r),
    };
    let auth = match q.client {
        Some(client) => check_api_auth(&s, client, &headers),
        None => check_operator(&s, &headers),
    };
    if let Err(m) = auth {
        return api_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", &m);
    }
    let limit = q
        .limit
        .unwrap_or(MAX_CHANNELS_PAGE)
        .clamp(1, MAX_CHANNELS_PAGE);
    let (client, after) = (q.client, q.after);
    match ask(&s, |reply| Command::Channels {
        client,
        after,
        limit,
        reply,
    })
    .await
    {
        Ok(v) => {
            let next = (v.len() == limit)
                .then(|| v.last().map(|c| c.channel_id))
                .flatten();
            Json(json!({ "channels": v, "next": next })).into_response()
        }
        Err(r) => r,
    }
}

/// `Authorization: Bearer <token>` with the hub's operator token (compared in constant time).
fn check_operator(s: &AppState, headers: &HeaderMap) -> Result<(), String> {
    let Some(expected) = s.operator_token.as_deref() else {
        return Err("no operator token is configured (--operator-token)".into());
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("missing Authorization: Bearer header")?;
    let (a, b) = (keccak256(given.as_bytes()), keccak256(expected.as_bytes()));
    let diff = a.iter().zip(b.iter()).fold(0u8, |d, (x, y)| d | (x ^ y));
    if diff == 0 {
        Ok(())
    } else {
        Err("wrong operator token".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_far_off_are_not_fresh_and_do_not_overflow() {
        let now = 1_700_000_000;
        assert!(fresh(now, now));
        assert!(fresh(now - AUTH_MAX_AGE_SECS, now));
        assert!(!fresh(now - AUTH_MAX_AGE_SECS - 1, now));
        assert!(fresh(now + AUTH_MAX_SKEW_SECS, now));
        assert!(!fresh(now + AUTH_MAX_SKEW_SECS + 1, now));
        assert!(!fresh(u64::MAX, now));
        assert!(!fresh(0, now));
        assert!(!fresh(u64::MAX, u64::MAX));
    }

    #[test]
    fn error_messages_are_bounded_on_a_char_boundary() {
        let long = "é".repeat(10_000);
        let b = bounded(&long);
        assert!(b.len() <= MAX_ERROR_MESSAGE + '…'.len_utf8());
        assert!(long.starts_with(b.trim_end_matches('…')));
        assert_eq!(bounded("short"), "short");
    }
}
