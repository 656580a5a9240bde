//! The devnet's HTTP face: the demo pages from `www/`, `/devnet.json` and the demo merchant's
//! API. Every response carries `Cache-Control: no-store`; every API error is
//! `{ "error": { "code", "message" } }`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use l2pay_hub::actor::Command;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tower_http::services::ServeDir;

use crate::chain::{token_balance, TOKEN_DECIMALS, TOKEN_SYMBOL};
use crate::error::{parse_amount, ApiError};
use crate::merchant::{InvoiceView, Merchant, PaymentView};

/// Channels the merchant overview shows (the first page of the hub's list, by channel id).
const OVERVIEW_CHANNELS: usize = 200;
/// Default and largest invoice lifetime (seconds).
const DEFAULT_TTL: u64 = 600;
const MAX_TTL: u64 = 7 * 24 * 3_600;

/// What `GET /devnet.json` serves (and the `L2PAY_DEVNET_READY` line prints).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DevnetInfo {
    pub chain_id: u64,
    pub rpc_url: String,
    #[serde(serialize_with = "checksummed")]
    pub adjudicator: Address,
    #[serde(serialize_with = "checksummed")]
    pub token: Address,
    pub token_symbol: &'static str,
    pub token_decimals: u8,
    pub hub_url: String,
    pub hub_http: String,
    #[serde(serialize_with = "checksummed")]
    pub hub_address: Address,
    #[serde(serialize_with = "checksummed")]
    pub merchant_address: Address,
    pub challenge_period: u64,
    #[serde(serialize_with = "all_checksummed")]
    pub funding_accounts: Vec<Address>,
}

/// EIP-55 mixed-case form (`Address`'s `Display`), where serde would write lower case.
fn checksummed<S: serde::Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

fn all_checksummed<S: serde::Serializer>(v: &[Address], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(Address::to_string))
}

#[derive(Clone)]
pub struct AppState {
    pub info: Arc<DevnetInfo>,
    pub merchant: Arc<Merchant>,
    /// The in-process hub's actor (for its channel list).
    pub hub: mpsc::Sender<Command>,
    /// Read-only chain access (balances).
    pub provider: DynProvider,
    pub www: PathBuf,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/merchant/invoices", post(create_invoice))
        .route("/api/merchant/payments", get(payments))
        .route("/api/merchant/refunds", post(refund))
        .route("/api/merchant/overview", get(overview))
        .route("/api/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .route("/devnet.json", get(devnet_json))
        .route("/", get(index))
        .merge(api)
        .fallback_service(ServeDir::new(&state.www))
        .layer(axum::middleware::from_fn(headers))
        .with_state(state)
}

/// `no-store` on everything; the content types browsers insist on for module scripts and
/// streaming wasm compilation.
async fn headers(req: Request, next: Next) -> Response {
    let content_type = content_type_for(req.uri().path());
    let mut res = next.run(req).await;
    let ok = res.status().is_success();
    let h = res.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let (Some(ct), true) = (content_type, ok) {
        h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    res
}

fn content_type_for(path: &str) -> Option<&'static str> {
    let ext = Path::new(path).extension()?.to_str()?;
    match ext {
        "wasm" => Some("application/wasm"),
        "js" | "mjs" => Some("text/javascript"),
        _ => None,
    }
}

async fn devnet_json(State(s): State<AppState>) -> Json<DevnetInfo> {
    Json(s.info.as_ref().clone())
}

/// `www/index.html`, or while there is none, a list of the pages in `www/`.
async fn index(State(s): State<AppState>) -> Response {
    if let Ok(page) = tokio::fs::read_to_string(s.www.join("index.html")).await {
        return Html(page).into_response();
    }
    let mut pages = vec![];
    if let Ok(mut dir) = tokio::fs::read_dir(&s.www).await {
        while let Ok(Some(e)) = dir.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".html") {
                pages.push(name);
            }
        }
    }
    pages.sort();
    let items: String = pages
        .iter()
        .map(|p| format!("<li><a href=\"/{p}\">{p}</a></li>"))
        .collect();
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>l2pay devnet</title>\
         <h1>l2pay devnet</h1><p>Chain settings: <a href=\"/devnet.json\">devnet.json</a></p>\
         <ul>{items}</ul>"
    ))
    .into_response()
}

async fn api_not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("no API endpoint {}", req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(t)| t).map_err(|e| {
        ApiError::new(
            e.status(),
            "BAD_REQUEST",
            format!("{} (amounts are decimal strings)", e.body_text()),
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InvoiceBody {
    amount: String,
    #[serde(default)]
    description: String,
    ttl_secs: Option<u64>,
}

async fn create_invoice(
    State(s): State<AppState>,
    b: Result<Json<InvoiceBody>, JsonRejection>,
) -> Result<(StatusCode, Json<InvoiceView>), ApiError> {
    let b = body(b)?;
    let amount = parse_amount("amount", &b.amount)?;
    let ttl = b.ttl_secs.unwrap_or(DEFAULT_TTL);
    if !(1..=MAX_TTL).contains(&ttl) {
        return Err(ApiError::bad_request(
            "BAD_TTL",
            format!("ttlSecs must be between 1 and {MAX_TTL}"),
        ));
    }
    let view = s
        .merchant
        .create_invoice(amount, &b.description, ttl)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn payments(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let payments = s.merchant.payments().await?;
    Ok(Json(json!({ "payments": payments })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefundBody {
    payment_id: B256,
    amount: String,
}

async fn refund(
    State(s): State<AppState>,
    b: Result<Json<RefundBody>, JsonRejection>,
) -> Result<Json<PaymentView>, ApiError> {
    let b = body(b)?;
    let amount = parse_amount("amount", &b.amount)?;
    Ok(Json(s.merchant.refund(b.payment_id, amount).await?))
}

async fn overview(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let m = &s.merchant;
    let (state, _) = m.state().await?;
    let (reply, rx) = oneshot::channel();
    let hub_down = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "HUB_DOWN",
            "the hub is stopping",
        )
    };
    s.hub
        .send(Command::Channels {
            client: None,
            after: None,
            limit: OVERVIEW_CHANNELS,
            reply,
        })
        .await
        .map_err(|_| hub_down())?;
    let channels = rx.await.map_err(|_| hub_down())?;
    // The hub's own view (as its GET /api/channels), with addresses in checksummed form.
    let channels: Vec<Value> = channels
        .into_iter()
        .map(|c| {
            let mut v = json!(c);
            v["client"] = json!(c.client.to_string());
            v
        })
        .collect();
    let chain_err = |e: anyhow::Error| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "CHAIN_UNREACHABLE",
            format!("reading balances from the chain failed: {e}"),
        )
    };
    let merchant_on_chain = token_balance(&s.provider, m.token, m.address())
        .await
        .map_err(chain_err)?;
    let hub_on_chain = token_balance(&s.provider, m.token, s.info.hub_address)
        .await
        .map_err(chain_err)?;
    let locked: u128 = state.htlcs.iter().map(|h| h.amount).sum();
    Ok(Json(json!({
        "token": { "address": m.token.to_string(), "symbol": TOKEN_SYMBOL, "decimals": TOKEN_DECIMALS },
        "merchant": {
            "address": m.address().to_string(),
            "channelId": m.channel_id,
            "nonce": state.nonce,
            "offChainBalance": state.balances[0].to_string(),
            "hubBalance": state.balances[1].to_string(),
            "locked": locked.to_string(),
            "deposits": { "merchant": state.deposits[0].to_string(), "hub": state.deposits[1].to_string() },
            "withdrawn": { "merchant": state.withdrawn[0].to_string(), "hub": state.withdrawn[1].to_string() },
            "onChainBalance": merchant_on_chain.to_string(),
        },
        "hub": {
            "address": s.info.hub_address.to_string(),
            "onChainBalance": hub_on_chain.to_string(),
            "channels": channels,
        },
    })))
}
