//! `parseInvoice`: an `l2pay1…` invoice string to a plain object, checksum and merchant
//! signature verified.

use alloy_primitives::B256;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::error::WasmError;
use crate::invoice::{Invoice, InvoiceError};
use crate::Signature;

/// `code` of an invoice string that is not a well-formed l2pay invoice.
pub const INVALID_INVOICE: &str = "INVALID_INVOICE";

#[wasm_bindgen(typescript_custom_section)]
const TS_INVOICE: &'static str = r#"
/** A parsed, signature-checked invoice. Addresses are EIP-55 checksummed. */
export interface Invoice {
  chainId: number;
  amount: Amount;
  /** ERC-20 token, or the zero address for the native coin. */
  token: Hex;
  /** `sha256(preimage)`. */
  paymentHash: Hex;
  /** Unix seconds after which the invoice must not be paid. */
  expiry: number;
  /** The address that signed the invoice. */
  merchant: Hex;
  hubUrl: string;
  description: string;
  signature: Hex;
}
"#;

/// The JavaScript shape of an invoice: the core's camelCase JSON form, with checksummed
/// addresses so they compare equal to `Key.address`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsInvoice {
    chain_id: u64,
    amount: String,
    token: String,
    payment_hash: B256,
    expiry: u64,
    merchant: String,
    hub_url: String,
    description: String,
    signature: Signature,
}

impl From<Invoice> for JsInvoice {
    fn from(inv: Invoice) -> Self {
        let r = inv.request;
        JsInvoice {
            chain_id: r.chain_id,
            amount: r.amount.to_string(),
            token: r.token.to_checksum(None),
            payment_hash: r.payment_hash,
            expiry: r.expiry,
            merchant: r.merchant.to_checksum(None),
            hub_url: r.hub_url,
            description: r.description,
            signature: inv.signature,
        }
    }
}

impl From<InvoiceError> for WasmError {
    fn from(e: InvoiceError) -> Self {
        match e {
            InvoiceError::Signature(s) => s.into(),
            InvoiceError::Expired(_) => WasmError::new("INVOICE_EXPIRED", e.to_string()),
            InvoiceError::Encoding(_)
            | InvoiceError::TooLong(_)
            | InvoiceError::Version(_)
            | InvoiceError::FieldTooLong { .. }
            | InvoiceError::BodyTooLong(_)
            | InvoiceError::ZeroAmount => WasmError::new(INVALID_INVOICE, e.to_string()),
        }
    }
}

/// Parses an `l2pay1…` invoice string and verifies its checksum, version, field limits and
/// the merchant's signature. Throws `INVALID_INVOICE` or `BAD_SIGNATURE`. Does not read the
/// clock: compare `expiry` (unix seconds) with the current time before paying.
#[wasm_bindgen(js_name = parseInvoice, unchecked_return_type = "Invoice")]
pub fn parse_invoice(invoice: &str) -> Result<JsValue, WasmError> {
    let invoice = JsInvoice::from(Invoice::decode(invoice)?);
    invoice
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| WasmError::malformed("invoice", e))
}
