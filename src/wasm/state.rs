//! Signing and verifying channel states given as plain JavaScript objects.

use crate::{ChannelParams, ChannelState, Signature, Signer};
use wasm_bindgen::prelude::*;

use super::error::WasmError;
use super::keys::Key;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A 0x-prefixed hex string. */
export type Hex = `0x${string}`;
/** An unsigned integer amount in the token's base unit, as a decimal string (never a float). */
export type Amount = string;

/** What both participants fixed when the channel was opened (serde form of `l2pay::ChannelParams`). */
export interface ChannelParams {
  chain_id: number;
  adjudicator: Hex;
  /** `[A, B]`. */
  participants: [Hex, Hex];
  /** ERC-20 token, or the zero address for the native coin. */
  token: Hex;
  challenge_period: number;
  salt: Hex;
}

/** A pending hash time-locked payment. */
export interface Htlc {
  id: number;
  from: "A" | "B";
  amount: Amount;
  /** `sha256(preimage)`. */
  payment_hash: Hex;
  /** Absolute expiry, unix seconds. */
  expiry: number;
}

/** The state both participants sign (serde form of `l2pay::ChannelState`). */
export interface ChannelState {
  nonce: number;
  balances: [Amount, Amount];
  deposits: [Amount, Amount];
  withdrawn: [Amount, Amount];
  htlcs: Htlc[];
  is_final: boolean;
}
"#;

fn decode<T: serde::de::DeserializeOwned>(what: &str, value: JsValue) -> Result<T, WasmError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| {
        // The error wraps a JS Error whose text starts with its class name.
        let detail = e.to_string();
        WasmError::malformed(what, detail.trim_start_matches("Error: "))
    })
}

/// Signs the EIP-712 digest of `state` in the channel `params` with `key`. Returns the
/// 65-byte `r ‖ s ‖ v` signature as 0x-hex. Throws `MALFORMED` for undecodable input and
/// `INVALID_UPDATE` for a state whose balances do not add up to its deposits.
#[wasm_bindgen(js_name = signState, unchecked_return_type = "Hex")]
pub fn sign_state(
    key: &Key,
    #[wasm_bindgen(unchecked_param_type = "ChannelParams")] params: JsValue,
    #[wasm_bindgen(unchecked_param_type = "ChannelState")] state: JsValue,
) -> Result<String, WasmError> {
    let params: ChannelParams = decode("params", params)?;
    let state: ChannelState = decode("state", state)?;
    state.check_invariant()?;
    let signature = key.signer().sign_digest(&state.digest(&params));
    Ok(format!("{signature:?}"))
}

/// Recovers the address that signed `state` in the channel `params`, as an EIP-55 0x-hex
/// string. Throws `BAD_SIGNATURE` for a malformed, high-s or unrecoverable signature and
/// `MALFORMED` for undecodable input. The caller compares the result with the participant it
/// expects.
#[wasm_bindgen(js_name = verifyState, unchecked_return_type = "Hex")]
pub fn verify_state(
    #[wasm_bindgen(unchecked_param_type = "ChannelParams")] params: JsValue,
    #[wasm_bindgen(unchecked_param_type = "ChannelState")] state: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Hex")] signature: &str,
) -> Result<String, WasmError> {
    let params: ChannelParams = decode("params", params)?;
    let state: ChannelState = decode("state", state)?;
    let bytes = alloy_primitives::hex::decode(signature)
        .map_err(|_| crate::error::SignatureError::Malformed)?;
    let signature = Signature::from_slice(&bytes)?;
    let signer = signature.recover(&state.digest(&params))?;
    Ok(signer.to_checksum(None))
}
