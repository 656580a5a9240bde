//! The demo merchant: a native hub client (anvil account 8) with its own SQLite store, one tUSD
//! channel with the hub funded by the hub's liquidity, invoices, its payment list and refunds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{keccak256, Address, B256};
use axum::http::StatusCode;
use l2pay::invoice::Invoice;
use l2pay::ledger::Payment;
use l2pay::op::{payment_hash, Op};
use l2pay::state::{ChannelState, Side};
use l2pay::Amount;
use l2pay_chain::AdjudicatorClient;
use l2pay_hub::actor::now_ms;
use l2pay_hub::client::{ClientEvent, HubClient};
use l2pay_hub::store::Store;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::chain::{Deployment, LocalChain, HUB_ACCOUNT, HUB_LIQUIDITY, MERCHANT_ACCOUNT};
use crate::error::ApiError;

/// Challenge period of the merchant's own channel (seconds).
const MERCHANT_CHALLENGE_PERIOD: u64 = 3_600;
/// How long a refund may wait for the hub's countersignature before the API answers.
const REFUND_WAIT: Duration = Duration::from_secs(30);

/// What the merchant remembers about an invoice beyond the channel ledger.
#[derive(Clone, Debug, Default)]
struct Meta {
    description: Option<String>,
    created_at: Option<u64>,
    settled_at: Option<u64>,
}

/// A payment as the merchant API shows it (money as decimal strings).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub payment_id: B256,
    pub amount: String,
    pub refunded: String,
    pub refundable: String,
    pub description: Option<String>,
    /// Unix seconds the invoice was created.
    pub created_at: Option<u64>,
    /// Unix seconds the payment settled in the merchant's channel.
    pub settled_at: Option<u64>,
}

/// The created invoice.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceView {
    pub invoice: String,
    pub payment_hash: B256,
    pub amount: String,
    pub description: String,
    pub expires_at: u64,
}

pub struct Merchant {
    pub client: HubClient,
    pub channel_id: B256,
    pub token: Address,
    meta: Arc<Mutex<HashMap<B256, Meta>>>,
    /// One refund at a time: each is checked against the payment, proposed and waited for.
    refunds: tokio::sync::Mutex<()>,
}

fn now_secs() -> u64 {
    now_ms() / 1_000
}

impl Merchant {
    /// Connects to the hub, opens the merchant's tUSD channel on chain (merchant = A, no
    /// deposit), has the hub deposit [`HUB_LIQUIDITY`] on it, registers it and waits until
    /// both sides have recognised the deposits.
    pub async fn start(
        chain: &LocalChain,
        deployment: Deployment,
        hub_ws: &str,
        store_url: &str,
    ) -> anyhow::Result<Merchant> {
        let store = Store::open(store_url).await?;
        let signer = Arc::new(chain.signer(MERCHANT_ACCOUNT));
        let client = HubClient::connect(hub_ws, signer, Some(store)).await?;
        let token = deployment.token;
        // A fresh chain every run: a fixed salt gives the same channel id every run.
        let salt = keccak256("l2pay-devnet merchant channel");
        let params = client.channel_params(token, MERCHANT_CHALLENGE_PERIOD, salt);
        let merchant_chain =
            AdjudicatorClient::new(deployment.adjudicator, chain.wallet(MERCHANT_ACCOUNT));
        merchant_chain.open(&params, 0).await?;
        let hub_chain = merchant_chain.with_provider(chain.wallet(HUB_ACCOUNT));
        hub_chain.approve(token, HUB_LIQUIDITY).await?;
        hub_chain.deposit(&params, HUB_LIQUIDITY).await?;
        let channel_id = client.register(params).await?;
        client
            .chain_deposit(channel_id, Side::B, HUB_LIQUIDITY)
            .await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (s, _) = client.state(channel_id).await?;
            if s.deposits == [0, HUB_LIQUIDITY] {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("the hub never recognised its deposit on the merchant channel");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let meta = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(record_settlements(client.events(), meta.clone()));
        Ok(Merchant {
            client,
            channel_id,
            token,
            meta,
            refunds: tokio::sync::Mutex::new(()),
        })
    }

    pub fn address(&self) -> Address {
        self.client.address()
    }

    /// The merchant channel's latest agreed state and payment records.
    pub async fn state(&self) -> Result<(ChannelState, Vec<(B256, Payment)>), ApiError> {
        Ok(self.client.state(self.channel_id).await?)
    }

    /// Creates and registers a tUSD invoice.
    pub async fn create_invoice(
        &self,
        amount: Amount,
        description: &str,
        ttl_secs: u64,
    ) -> Result<InvoiceView, ApiError> {
        if amount == 0 {
            return Err(ApiError::bad_request(
                "BAD_AMOUNT",
                "amount must be above 0",
            ));
        }
        let (s, _) = self.state().await?;
        let liquidity = s.balances[1];
        if amount > liquidity {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "HUB_LIQUIDITY",
                format!("the hub can forward at most {liquidity} to this merchant"),
            ));
        }
        let created_at = now_secs();
        let invoice = self
            .client
            .create_invoice_in(self.token, amount, description, ttl_secs)
            .await?;
        let decoded = Invoice::decode(&invoice).map_err(|e| ApiError::internal(e.to_string()))?;
        let hash = decoded.request.payment_hash;
        self.meta.lock().expect("meta lock").insert(
            hash,
            Meta {
                description: Some(description.to_string()),
                created_at: Some(created_at),
                settled_at: None,
            },
        );
        Ok(InvoiceView {
            invoice,
            payment_hash: hash,
            amount: amount.to_string(),
            description: description.to_string(),
            expires_at: decoded.request.expiry,
        })
    }

    /// The payments the merchant received, newest first.
    pub async fn payments(&self) -> Result<Vec<PaymentView>, ApiError> {
        let (_, payments) = self.state().await?;
        let mut views: Vec<PaymentView> = payments
            .iter()
            .filter(|(_, p)| p.payer == Side::B)
            .map(|(id, p)| self.view(*id, p))
            .collect();
        views.sort_by(|a, b| {
            let at = |v: &PaymentView| v.settled_at.or(v.created_at);
            at(b).cmp(&at(a)).then(b.payment_id.cmp(&a.payment_id))
        });
        Ok(views)
    }

    fn view(&self, id: B256, p: &Payment) -> PaymentView {
        let meta = self.meta.lock().expect("meta lock").get(&id).cloned();
        PaymentView {
            payment_id: id,
            amount: p.amount.to_string(),
            refunded: p.refunded.to_string(),
            refundable: p.refundable().to_string(),
            description: meta.as_ref().and_then(|m| m.description.clone()),
            created_at: meta.as_ref().and_then(|m| m.created_at),
            settled_at: meta.and_then(|m| m.settled_at),
        }
    }

    /// Refunds `amount` of a received payment: proposes `Op::Refund` on the merchant's channel
    /// and waits until the hub countersigned it (the hub then passes it back to the shopper).
    pub async fn refund(&self, payment_id: B256, amount: Amount) -> Result<PaymentView, ApiError> {
        let _one_at_a_time = self.refunds.lock().await;
        if amount == 0 {
            return Err(ApiError::bad_request(
                "BAD_AMOUNT",
                "amount must be above 0",
            ));
        }
        let (_, payments) = self.state().await?;
        let Some((_, before)) = payments
            .iter()
            .find(|(id, p)| *id == payment_id && p.payer == Side::B)
        else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "UNKNOWN_PAYMENT",
                format!("no payment {payment_id} was received"),
            ));
        };
        if amount > before.refundable() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "REFUND_EXCEEDS_PAYMENT",
                format!(
                    "refund of {amount} exceeds what is left of the payment: {} (paid {}, refunded {})",
                    before.refundable(),
                    before.amount,
                    before.refunded
                ),
            ));
        }
        let target = before.refunded + amount;
        let mut events = self.client.events();
        self.client
            .propose(self.channel_id, Op::Refund { payment_id, amount })
            .await?;
        let agreed = tokio::time::timeout(REFUND_WAIT, async {
            loop {
                // The event is the fast path; the state check covers a lagging receiver.
                match tokio::time::timeout(Duration::from_millis(500), events.recv()).await {
                    Ok(Ok(ClientEvent::Updated {
                        op: Op::Refund { payment_id: id, .. },
                        by: Side::A,
                        channel_id,
                    })) if id == payment_id && channel_id == self.channel_id => {}
                    Ok(Err(RecvError::Closed)) => return false,
                    Ok(_) | Err(_) => {}
                }
                if let Ok((_, ps)) = self.state().await {
                    if ps
                        .iter()
                        .any(|(id, p)| *id == payment_id && p.refunded >= target)
                    {
                        return true;
                    }
                }
            }
        })
        .await;
        if agreed != Ok(true) {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "REFUND_PENDING",
                "the refund was proposed but the hub has not countersigned it yet",
            ));
        }
        let (_, payments) = self.state().await?;
        let (id, p) = payments
            .iter()
            .find(|(id, _)| *id == payment_id)
            .ok_or_else(|| ApiError::internal("payment vanished"))?;
        Ok(self.view(*id, p))
    }
}

/// Notes when each invoice settled in the merchant's channel.
async fn record_settlements(
    mut events: tokio::sync::broadcast::Receiver<ClientEvent>,
    meta: Arc<Mutex<HashMap<B256, Meta>>>,
) {
    loop {
        match events.recv().await {
            Ok(ClientEvent::Updated {
                op: Op::SettleHtlc { preimage, .. },
                by: Side::A,
                ..
            }) => {
                let hash = payment_hash(&preimage);
                meta.lock()
                    .expect("meta lock")
                    .entry(hash)
                    .or_default()
                    .settled_at = Some(now_secs());
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}
