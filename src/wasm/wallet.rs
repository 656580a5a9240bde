//! `WalletCore`: the sans-IO wallet ([`crate::client::ClientCore`]) for the JavaScript SDK.
//! The SDK's driver (`pkg-template/src/`) owns IndexedDB, the WebSocket, timers and the
//! EIP-1193 provider; this class decides what to sign, send, store and report, and encodes
//! the contract calls.

use std::sync::Arc;

use alloy_primitives::{hex, Address, B256};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::error::WasmError;
use super::keys::Key;
use crate::abi::{self, StateCall};
use crate::channel::ChannelSnapshot;
use crate::client::{ClientCore, ClientOutput};
use crate::invoice::Invoice;
use crate::ledger::Payment;
use crate::op::Op;
use crate::state::Side;
use crate::{Amount, ChannelState};

#[wasm_bindgen(typescript_custom_section)]
const TS_WALLET: &'static str = r#"
/** An operation on a channel (serde form of `l2pay::Op`). */
export type Op = { [kind: string]: unknown } | "close";

/** What the core asks the driver to do, in order. */
export type CoreOutput =
  | { kind: "send"; bytes: Uint8Array }
  | { kind: "persist"; channelId: Hex; seq: number; snapshot: string; payment?: { id: Hex; record: string } }
  | { kind: "event"; event: CoreEvent };

export type CoreEvent =
  | { type: "welcome"; hub: Hex; chainId: number; adjudicator: Hex; channels: ChannelParams[]; policy: object; routing: object; terms: { minChallengePeriod: number; tokens: Hex[] } }
  | { type: "registered"; channelId: Hex }
  | { type: "hubError"; code: string; message: string }
  | { type: "updated"; channelId: Hex; nonce: number; op: Op; by: "A" | "B" }
  | { type: "paymentSettled"; channelId: Hex; paymentHash: Hex; preimage: Hex; amount: Amount }
  | { type: "paymentFailed"; channelId: Hex; paymentHash: Hex; reason: string }
  | { type: "refunded"; channelId: Hex; paymentId: Hex; amount: Amount }
  | { type: "proposalRejected"; channelId: Hex; op: Op; reason: string }
  | { type: "goToChain"; channelId: Hex; reason: string }
  | { type: "restored"; channelId: Hex; nonce: number };

export interface CorePayment { id: Hex; payer: "A" | "B"; amount: Amount; refunded: Amount; preimage: Hex | null }

export interface CoreChannel {
  channelId: Hex;
  params: ChannelParams;
  state: ChannelState;
  /** This wallet's spendable balance (participant A). */
  balance: Amount;
  /** Funds in HTLCs this wallet sent that are not settled yet. */
  locked: Amount;
  /** An update of ours awaits the hub's signature. */
  busy: boolean;
  /** The payment hash of our HTLC proposal awaiting the hub, if that is what is pending. */
  pendingPaymentHash: Hex | null;
  /** Set when the channel can only be settled on chain. */
  failure: string | null;
  payments: CorePayment[];
}

export interface PaymentStarted {
  paymentHash: Hex;
  /** What leaves the channel: the invoice amount plus the hub's fee. */
  amount: Amount;
  fee: Amount;
  expiry: number;
  htlcId: number;
  invoiceAmount: Amount;
  description: string;
  merchant: Hex;
}

export type ChainEvent =
  | { type: "deposit"; channelId: Hex; participant: Hex; total: Amount }
  | { type: "withdrawn"; channelId: Hex; nonce: number; withdrawn: [Amount, Amount] }
  | { type: "closed"; channelId: Hex; payouts: [Amount, Amount] }
  | { type: "closeRegistered"; channelId: Hex; nonce: number; deadline: number }
  | { type: "challenged"; channelId: Hex; nonce: number }
  | { type: "settled"; channelId: Hex; payouts: [Amount, Amount] };
"#;

fn to_js<T: Serialize>(v: &T) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::UNDEFINED)
}

fn bytes32(what: &str, s: &str) -> Result<B256, WasmError> {
    s.parse()
        .map_err(|_| WasmError::malformed(what, "expected 0x and 64 hex digits"))
}

fn address(what: &str, s: &str) -> Result<Address, WasmError> {
    s.parse()
        .map_err(|_| WasmError::malformed(what, "expected 0x and 40 hex digits"))
}

fn amount(what: &str, s: &str) -> Result<Amount, WasmError> {
    s.parse()
        .map_err(|_| WasmError::malformed(what, "expected an unsigned integer as a decimal string"))
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsPayment {
    id: B256,
    payer: Side,
    amount: String,
    refunded: String,
    preimage: Option<B256>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsChannel<'a> {
    channel_id: B256,
    params: &'a crate::ChannelParams,
    state: &'a ChannelState,
    balance: String,
    locked: String,
    busy: bool,
    pending_payment_hash: Option<B256>,
    failure: Option<String>,
    payments: Vec<JsPayment>,
}

/// The wallet's protocol engine: one key, its channels with one hub.
#[wasm_bindgen]
pub struct WalletCore {
    core: ClientCore,
    signer: Arc<crate::signer::LocalSigner>,
}

/// The longest message `signMessage` signs (bytes).
pub const MAX_MESSAGE_BYTES: usize = 4_096;

#[wasm_bindgen]
impl WalletCore {
    #[wasm_bindgen(constructor)]
    pub fn new(key: &Key) -> WalletCore {
        let signer = Arc::new(key.signer().clone());
        WalletCore {
            core: ClientCore::new(signer.clone()),
            signer,
        }
    }

    /// EIP-191 `personal_sign` of `message` with the channel key (WebLN `signMessage`): 65
    /// bytes r‖s‖v as 0x-hex. Never a channel state (those are EIP-712 typed data).
    #[wasm_bindgen(js_name = signMessage, unchecked_return_type = "Hex")]
    pub fn sign_message(&self, message: &str) -> Result<String, WasmError> {
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(WasmError::malformed(
                "message",
                format!("longer than {MAX_MESSAGE_BYTES} bytes"),
            ));
        }
        let digest = alloy_primitives::eip191_hash_message(message.as_bytes());
        Ok(hex0x(
            crate::signer::Signer::sign_digest(self.signer.as_ref(), &digest).as_bytes(),
        ))
    }

    /// This wallet's channel address (participant A of its channels).
    #[wasm_bindgen(getter, unchecked_return_type = "Hex")]
    pub fn address(&self) -> String {
        self.core.address().to_checksum(None)
    }

    /// The hub's address once a challenge was received.
    #[wasm_bindgen(getter, unchecked_return_type = "Hex | undefined")]
    pub fn hub(&self) -> Option<String> {
        self.core.hub().map(|h| h.hub.to_checksum(None))
    }

    /// Resumes a channel from a stored snapshot (JSON from a `persist` output) and its stored
    /// payment records (`[[id, recordJson], …]`).
    pub fn restore(
        &mut self,
        snapshot: &str,
        #[wasm_bindgen(unchecked_param_type = "[Hex, string][]")] payments: JsValue,
    ) -> Result<(), WasmError> {
        let snap: ChannelSnapshot =
            serde_json::from_str(snapshot).map_err(|e| WasmError::malformed("snapshot", e))?;
        let pairs: Vec<(String, String)> = serde_wasm_bindgen::from_value(payments)
            .map_err(|e| WasmError::malformed("payments", e))?;
        let mut records = Vec::with_capacity(pairs.len());
        for (id, rec) in pairs {
            let p: Payment =
                serde_json::from_str(&rec).map_err(|e| WasmError::malformed("payment", e))?;
            records.push((bytes32("payment id", &id)?, p));
        }
        self.core.restore(snap, records);
        Ok(())
    }

    /// On the next welcome, recover every channel's latest countersigned state from the hub
    /// before resuming (after restoring an old backup, or from the key alone).
    #[wasm_bindgen(js_name = setResync)]
    pub fn set_resync(&mut self, on: bool) {
        self.core.set_resync(on);
    }

    /// True until the hub's states of all its channels with us were recovered.
    #[wasm_bindgen(getter)]
    pub fn resyncing(&self) -> bool {
        self.core.resyncing()
    }

    /// A binary frame from the hub. Throws for a frame that does not decode or that the
    /// channel rejects (state unchanged; the outputs may hold a reply to send).
    #[wasm_bindgen(js_name = handleFrame)]
    pub fn handle_frame(&mut self, bytes: &[u8], now: f64) -> Result<(), WasmError> {
        Ok(self.core.handle_frame(bytes, now as u64)?)
    }

    #[wasm_bindgen(js_name = handleDisconnected)]
    pub fn handle_disconnected(&mut self) {
        self.core.handle_disconnected();
    }

    #[wasm_bindgen(js_name = handlePersisted)]
    pub fn handle_persisted(&mut self, channel_id: &str, seq: f64) -> Result<(), WasmError> {
        self.core
            .handle_persisted(bytes32("channelId", channel_id)?, seq as u64);
        Ok(())
    }

    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) {
        self.core.handle_timeout(now as u64);
    }

    /// The next time (ms) `handleTimeout` must be called, if any.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.core.poll_timeout().map(|t| t as f64)
    }

    /// Everything the core wants done, in order.
    #[wasm_bindgen(unchecked_return_type = "CoreOutput[]")]
    pub fn drain(&mut self) -> js_sys::Array {
        let out = js_sys::Array::new();
        while let Some(o) = self.core.poll_output() {
            let v = match o {
                ClientOutput::Send(bytes) => {
                    let obj = js_sys::Object::new();
                    set(&obj, "kind", &"send".into());
                    set(&obj, "bytes", &js_sys::Uint8Array::from(&bytes[..]).into());
                    obj.into()
                }
                ClientOutput::Persist {
                    channel_id,
                    seq,
                    snapshot,
                    payment,
                } => {
                    let obj = js_sys::Object::new();
                    set(&obj, "kind", &"persist".into());
                    set(&obj, "channelId", &hex0x(channel_id.as_slice()).into());
                    set(&obj, "seq", &(seq as f64).into());
                    let snap = serde_json::to_string(&*snapshot).unwrap_or_default();
                    set(&obj, "snapshot", &snap.into());
                    if let Some((id, p)) = payment {
                        let rec = js_sys::Object::new();
                        set(&rec, "id", &hex0x(id.as_slice()).into());
                        let json = serde_json::to_string(&p).unwrap_or_default();
                        set(&rec, "record", &json.into());
                        set(&obj, "payment", &rec.into());
                    }
                    obj.into()
                }
                ClientOutput::Event(e) => {
                    let obj = js_sys::Object::new();
                    set(&obj, "kind", &"event".into());
                    set(&obj, "event", &to_js(&e));
                    obj.into()
                }
            };
            out.push(&v);
        }
        out
    }

    /// Starts a channel with the welcomed hub; returns its id. Store the `persist` output it
    /// produces before funding the channel.
    #[wasm_bindgen(js_name = createChannel, unchecked_return_type = "Hex")]
    pub fn create_channel(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Hex")] token: &str,
        challenge_period: f64,
        #[wasm_bindgen(unchecked_param_type = "Hex")] salt: &str,
    ) -> Result<String, WasmError> {
        let params = self.core.channel_params(
            address("token", token)?,
            challenge_period as u64,
            bytes32("salt", salt)?,
        )?;
        let id = self.core.create_channel(params)?;
        Ok(hex0x(id.as_slice()))
    }

    /// Drops a channel whose funding failed; false (and nothing changes) if it ever held
    /// money.
    pub fn forget(&mut self, channel_id: &str) -> Result<bool, WasmError> {
        Ok(self.core.forget(bytes32("channelId", channel_id)?))
    }

    /// Asks the hub to drive its end of a channel.
    pub fn register(&mut self, channel_id: &str, now: f64) -> Result<(), WasmError> {
        Ok(self
            .core
            .register(bytes32("channelId", channel_id)?, now as u64)?)
    }

    /// The chain shows `total` deposited by `participant` in a channel.
    #[wasm_bindgen(js_name = handleChainDeposit)]
    pub fn handle_chain_deposit(
        &mut self,
        channel_id: &str,
        participant: &str,
        total: &str,
        now: f64,
    ) -> Result<(), WasmError> {
        let id = bytes32("channelId", channel_id)?;
        let who = address("participant", participant)?;
        let Some(side) = self.core.channel(&id).and_then(|c| c.params().side_of(who)) else {
            return Err(crate::Error::UnknownChannel(id).into());
        };
        self.core
            .handle_chain_deposit(id, side, amount("total", total)?, now as u64);
        Ok(())
    }

    #[wasm_bindgen(js_name = handleChainClosing)]
    pub fn handle_chain_closing(&mut self, channel_id: &str) -> Result<(), WasmError> {
        self.core
            .handle_chain_closing(bytes32("channelId", channel_id)?);
        Ok(())
    }

    /// Pays an `l2pay1…` invoice from a channel. Throws `INVALID_INVOICE`, `BAD_SIGNATURE`,
    /// `INVALID_UPDATE` (e.g. not enough balance), `BUSY`… with the channel unchanged.
    #[wasm_bindgen(unchecked_return_type = "PaymentStarted")]
    pub fn pay(&mut self, channel_id: &str, invoice: &str, now: f64) -> Result<JsValue, WasmError> {
        let id = bytes32("channelId", channel_id)?;
        let inv = Invoice::decode(invoice)?;
        inv.check_expiry(now as u64)?;
        let p = self.core.pay(id, &inv, now as u64)?;
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Started {
            payment_hash: B256,
            amount: String,
            fee: String,
            expiry: u64,
            htlc_id: u64,
            invoice_amount: String,
            description: String,
            merchant: String,
        }
        Ok(to_js(&Started {
            payment_hash: p.payment_hash,
            amount: p.amount.to_string(),
            fee: p.fee.to_string(),
            expiry: p.expiry,
            htlc_id: p.htlc_id,
            invoice_amount: inv.request.amount.to_string(),
            description: inv.request.description,
            merchant: inv.request.merchant.to_checksum(None),
        }))
    }

    /// Proposes withdrawing `amount` of our balance to the chain.
    pub fn withdraw(&mut self, channel_id: &str, amount_: &str, now: f64) -> Result<(), WasmError> {
        let op = Op::Withdraw {
            amount: amount("amount", amount_)?,
        };
        Ok(self
            .core
            .propose(bytes32("channelId", channel_id)?, op, now as u64)?)
    }

    /// Proposes the final state of a cooperative close.
    pub fn close(&mut self, channel_id: &str, now: f64) -> Result<(), WasmError> {
        Ok(self
            .core
            .propose(bytes32("channelId", channel_id)?, Op::Close, now as u64)?)
    }

    #[wasm_bindgen(js_name = channelIds, unchecked_return_type = "Hex[]")]
    pub fn channel_ids(&self) -> Vec<String> {
        self.core
            .channels()
            .map(|c| hex0x(c.id().as_slice()))
            .collect()
    }

    /// A channel's latest agreed state, balances and payments.
    #[wasm_bindgen(unchecked_return_type = "CoreChannel | undefined")]
    pub fn channel(&self, channel_id: &str) -> Result<JsValue, WasmError> {
        let id = bytes32("channelId", channel_id)?;
        let Some(c) = self.core.channel(&id) else {
            return Ok(JsValue::UNDEFINED);
        };
        let s = c.latest();
        let locked: Amount = s
            .htlcs
            .iter()
            .filter(|h| h.from == Side::A)
            .map(|h| h.amount)
            .sum();
        let view = JsChannel {
            channel_id: id,
            params: c.params(),
            state: s,
            balance: s.balances[0].to_string(),
            locked: locked.to_string(),
            busy: !c.is_idle(),
            pending_payment_hash: c.pending().and_then(|p| match p.op {
                Op::AddHtlc { payment_hash, .. } => Some(payment_hash),
                _ => None,
            }),
            failure: c.failure().map(ToString::to_string),
            payments: c
                .ledger()
                .payments()
                .map(|(id, p)| JsPayment {
                    id: *id,
                    payer: p.payer,
                    amount: p.amount.to_string(),
                    refunded: p.refunded.to_string(),
                    preimage: p.preimage,
                })
                .collect(),
        };
        Ok(to_js(&view))
    }

    // ----- contract calls (calldata as 0x-hex) -----

    /// `openFor`: the provider's account funds this wallet's side with `amount`.
    #[wasm_bindgen(js_name = txOpen, unchecked_return_type = "Hex")]
    pub fn tx_open(&self, channel_id: &str, amount_: &str) -> Result<String, WasmError> {
        let c = self.known(channel_id)?;
        Ok(hex0x(&abi::open_for(
            c.params(),
            amount("amount", amount_)?,
        )))
    }

    /// `depositFor` this wallet's side.
    #[wasm_bindgen(js_name = txDeposit, unchecked_return_type = "Hex")]
    pub fn tx_deposit(&self, channel_id: &str, amount_: &str) -> Result<String, WasmError> {
        let c = self.known(channel_id)?;
        Ok(hex0x(&abi::deposit_for(
            c.id(),
            self.core.address(),
            amount("amount", amount_)?,
        )))
    }

    /// A co-signed call on the latest agreed state: `withdraw`, `closeCooperative`,
    /// `closeUnilateral` or `challenge`. Throws `NO_SIGNED_STATE` before the first agreed
    /// update.
    #[wasm_bindgen(js_name = txState, unchecked_return_type = "Hex")]
    pub fn tx_state(
        &mut self,
        channel_id: &str,
        #[wasm_bindgen(
            unchecked_param_type = "\"withdraw\" | \"closeCooperative\" | \"closeUnilateral\" | \"challenge\""
        )]
        call: &str,
    ) -> Result<String, WasmError> {
        let call = match call {
            "withdraw" => StateCall::Withdraw,
            "closeCooperative" => StateCall::CloseCooperative,
            "closeUnilateral" => StateCall::CloseUnilateral,
            "challenge" => StateCall::Challenge,
            other => {
                return Err(WasmError::malformed(
                    "call",
                    format!("unknown call {other}"),
                ))
            }
        };
        let id = bytes32("channelId", channel_id)?;
        let ch = self
            .core
            .channel_mut(&id)
            .ok_or(crate::Error::UnknownChannel(id))?;
        let (state, sigs) = ch.signed_latest().ok_or_else(|| {
            WasmError::new("NO_SIGNED_STATE", "the channel has no co-signed state yet")
        })?;
        Ok(hex0x(&abi::state_call(call, ch.params(), &state, &sigs)))
    }

    /// `closeWithoutState`: gets the deposits of a channel without any agreed state back
    /// (after the challenge period and `settle`).
    #[wasm_bindgen(js_name = txCloseWithoutState, unchecked_return_type = "Hex")]
    pub fn tx_close_without_state(&self, channel_id: &str) -> Result<String, WasmError> {
        let c = self.known(channel_id)?;
        Ok(hex0x(&abi::close_without_state(c.id())))
    }

    /// `settle` with the locks of the latest agreed state (after the challenge period).
    #[wasm_bindgen(js_name = txSettle, unchecked_return_type = "Hex")]
    pub fn tx_settle(&self, channel_id: &str) -> Result<String, WasmError> {
        let c = self.known(channel_id)?;
        Ok(hex0x(&abi::settle(c.params(), c.latest())))
    }

    fn known(&self, channel_id: &str) -> Result<&crate::Channel, WasmError> {
        let id = bytes32("channelId", channel_id)?;
        Ok(self
            .core
            .channel(&id)
            .ok_or(crate::Error::UnknownChannel(id))?)
    }
}

fn set(obj: &js_sys::Object, k: &str, v: &JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(obj, &k.into(), v);
}

/// This core's version (the npm package's).
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").into()
}

/// The address that signed `message` with `signMessage` (EIP-191); throws `BAD_SIGNATURE`.
#[wasm_bindgen(js_name = recoverMessage, unchecked_return_type = "Hex")]
pub fn recover_message(
    message: &str,
    #[wasm_bindgen(unchecked_param_type = "Hex")] signature: &str,
) -> Result<String, WasmError> {
    let bytes = hex::decode(signature.trim_start_matches("0x"))
        .map_err(|e| WasmError::malformed("signature", e))?;
    let sig = crate::signer::Signature::from_slice(&bytes).map_err(crate::Error::from)?;
    let digest = alloy_primitives::eip191_hash_message(message.as_bytes());
    let who = sig.recover(&digest).map_err(crate::Error::from)?;
    Ok(who.to_checksum(None))
}

/// ERC-20 `approve(spender, amount)` calldata.
#[wasm_bindgen(js_name = txApprove, unchecked_return_type = "Hex")]
pub fn tx_approve(spender: &str, amount_: &str) -> Result<String, WasmError> {
    Ok(hex0x(&abi::approve(
        address("spender", spender)?,
        amount("amount", amount_)?,
    )))
}

/// The topic of an adjudicator event (`"Settled"`, `"Closed"`, …) for `eth_getLogs`.
#[wasm_bindgen(js_name = eventTopic, unchecked_return_type = "Hex")]
pub fn event_topic(name: &str) -> Result<String, WasmError> {
    abi::event_topic(name)
        .map(|t| hex0x(t.as_slice()))
        .ok_or_else(|| WasmError::malformed("event", format!("unknown event {name}")))
}

/// ERC-20 `balanceOf(who)` calldata.
#[wasm_bindgen(js_name = txBalanceOf, unchecked_return_type = "Hex")]
pub fn tx_balance_of(who: &str) -> Result<String, WasmError> {
    Ok(hex0x(&abi::balance_of(address("who", who)?)))
}

/// The `uint256` an `eth_call` returned, as a decimal string.
#[wasm_bindgen(js_name = decodeUint, unchecked_return_type = "Amount")]
pub fn decode_uint(data: &str) -> Result<String, WasmError> {
    let bytes = hex::decode(data).map_err(|e| WasmError::malformed("data", e))?;
    Ok(abi::decode_uint(&bytes)?.to_string())
}

/// Decodes an adjudicator log (`topics`, `data` as in a JSON-RPC receipt); `null` for other
/// logs.
#[wasm_bindgen(js_name = decodeLog, unchecked_return_type = "ChainEvent | null")]
pub fn decode_log(
    #[wasm_bindgen(unchecked_param_type = "Hex[]")] topics: Vec<String>,
    #[wasm_bindgen(unchecked_param_type = "Hex")] data: &str,
) -> Result<JsValue, WasmError> {
    let topics = topics
        .iter()
        .map(|t| bytes32("topic", t))
        .collect::<Result<Vec<_>, _>>()?;
    let data = hex::decode(data).map_err(|e| WasmError::malformed("data", e))?;
    Ok(abi::decode_log(&topics, &data)?.map_or(JsValue::NULL, |ev| to_js(&ev)))
}
