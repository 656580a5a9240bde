//! Invoices: a merchant-signed payment request with a compact, copy-pastable string form.
//!
//! The string is bech32m (human-readable part `l2pay`, checksummed so a mistyped character is
//! caught) over the postcard encoding of the invoice and the merchant's EIP-712 signature.

use alloy_primitives::{Address, B256, U256};
use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::eip712;
use crate::error::SignatureError;
use crate::serde_util::amount;
use crate::signer::{Signature, Signer};
use crate::Amount;

/// Human-readable prefix of every invoice string.
pub const HRP: &str = "l2pay";
/// Version byte inside the encoded invoice.
pub const INVOICE_VERSION: u8 = 1;
pub const MAX_HUB_URL: usize = 256;
/// Longest description. With every other field at its maximum (a 256-byte hub URL, the
/// largest amount, chain id and expiry) the invoice still fits one bech32m string
/// ([`MAX_INVOICE_CHARS`]); `tests/invoice.rs` checks that worst case.
pub const MAX_DESCRIPTION: usize = 160;
/// Longest invoice string: bech32m's checksum covers at most 1,023 characters.
pub const MAX_INVOICE_CHARS: usize = 1_023;
/// Longest encoded invoice body that fits [`MAX_INVOICE_CHARS`]: the prefix, the separator and
/// the 6-character checksum leave 1,011 characters of 5 bits each.
const MAX_BODY: usize = (MAX_INVOICE_CHARS - HRP.len() - 1 - 6) * 5 / 8;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InvoiceError {
    #[error("not an l2pay invoice: {0}")]
    Encoding(String),
    #[error("invoice is {0} characters; the maximum is {MAX_INVOICE_CHARS}")]
    TooLong(usize),
    #[error("unsupported invoice version {0}")]
    Version(u8),
    #[error("{field} is longer than {max} bytes")]
    FieldTooLong { field: &'static str, max: usize },
    #[error("invoice amount must be greater than zero")]
    ZeroAmount,
    #[error("invoice signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("invoice expired at {0}")]
    Expired(u64),
    #[error("invoice encodes to {0} bytes; at most {MAX_BODY} fit an invoice string")]
    BodyTooLong(usize),
}

/// What the merchant asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceRequest {
    pub chain_id: u64,
    #[serde(with = "amount")]
    pub amount: Amount,
    /// ERC-20 token, or the zero address for the native coin.
    pub token: Address,
    /// `sha256(preimage)`; the merchant keeps the preimage until it is paid.
    pub payment_hash: B256,
    /// Unix seconds after which the invoice must not be paid.
    pub expiry: u64,
    pub merchant: Address,
    pub hub_url: String,
    pub description: String,
}

/// A signed invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    #[serde(flatten)]
    pub request: InvoiceRequest,
    pub signature: Signature,
}

#[derive(Serialize, Deserialize)]
struct Encoded {
    version: u8,
    request: InvoiceRequest,
    signature: Signature,
}

impl InvoiceRequest {
    fn validate(&self) -> Result<(), InvoiceError> {
        if self.amount == 0 {
            return Err(InvoiceError::ZeroAmount);
        }
        if self.hub_url.len() > MAX_HUB_URL {
            return Err(InvoiceError::FieldTooLong {
                field: "hubUrl",
                max: MAX_HUB_URL,
            });
        }
        if self.description.len() > MAX_DESCRIPTION {
            return Err(InvoiceError::FieldTooLong {
                field: "description",
                max: MAX_DESCRIPTION,
            });
        }
        Ok(())
    }

    /// The EIP-712 digest the merchant signs.
    pub fn digest(&self) -> B256 {
        let typed = eip712::Invoice {
            amount: U256::from(self.amount),
            token: self.token,
            paymentHash: self.payment_hash,
            expiry: self.expiry,
            merchant: self.merchant,
            hubUrl: self.hub_url.clone(),
            description: self.description.clone(),
        };
        eip712::signing_hash(&typed, &eip712::invoice_domain(self.chain_id))
    }

    /// Signs the request with the merchant's key (which must be `self.merchant`). A request
    /// that would not fit an invoice string is refused here, so a signed invoice encodes.
    pub fn sign(self, merchant: &dyn Signer) -> Result<Invoice, InvoiceError> {
        self.validate()?;
        if merchant.address() != self.merchant {
            return Err(SignatureError::WrongSigner {
                expected: self.merchant,
                got: merchant.address(),
            }
            .into());
        }
        let signature = merchant.sign_digest(&self.digest());
        let invoice = Invoice {
            request: self,
            signature,
        };
        invoice.body()?;
        Ok(invoice)
    }
}

impl Invoice {
    /// The copy-pastable string form: `l2pay1…` (bech32m). Fails only for an invoice built by
    /// hand whose fields exceed the limits (a signed or decoded one always encodes).
    pub fn encode(&self) -> Result<String, InvoiceError> {
        let body = self.body()?;
        let hrp = Hrp::parse(HRP).map_err(|e| InvoiceError::Encoding(e.to_string()))?;
        bech32::encode::<Bech32m>(hrp, &body).map_err(|e| InvoiceError::Encoding(e.to_string()))
    }

    fn body(&self) -> Result<Vec<u8>, InvoiceError> {
        self.request.validate()?;
        let body = postcard::to_stdvec(&Encoded {
            version: INVOICE_VERSION,
            request: self.request.clone(),
            signature: self.signature,
        })
        .map_err(|e| InvoiceError::Encoding(e.to_string()))?;
        if body.len() > MAX_BODY {
            return Err(InvoiceError::BodyTooLong(body.len()));
        }
        Ok(body)
    }

    /// Parses and verifies an invoice string: checksum, version, field limits and the
    /// merchant's signature. Expiry depends on the clock: check it with [`Invoice::check_expiry`].
    pub fn decode(s: &str) -> Result<Invoice, InvoiceError> {
        if s.len() > MAX_INVOICE_CHARS {
            return Err(InvoiceError::TooLong(s.len()));
        }
        let checked = CheckedHrpstring::new::<Bech32m>(s.trim())
            .map_err(|e| InvoiceError::Encoding(e.to_string()))?;
        // bech32 is case-insensitive (QR codes carry invoices upper-case); mixed case is
        // refused by the parser.
        if checked.hrp().to_lowercase() != HRP {
            return Err(InvoiceError::Encoding(format!(
                "prefix {} is not {HRP}",
                checked.hrp()
            )));
        }
        let body: Vec<u8> = checked.byte_iter().collect();
        let Some(&version) = body.first() else {
            return Err(InvoiceError::Encoding("empty invoice".into()));
        };
        if version != INVOICE_VERSION {
            return Err(InvoiceError::Version(version));
        }
        let enc: Encoded =
            postcard::from_bytes(&body).map_err(|e| InvoiceError::Encoding(e.to_string()))?;
        enc.request.validate()?;
        enc.signature
            .verify(&enc.request.digest(), enc.request.merchant)?;
        Ok(Invoice {
            request: enc.request,
            signature: enc.signature,
        })
    }

    /// Refuses an invoice whose expiry (unix seconds) is at or before `now_ms`.
    pub fn check_expiry(&self, now_ms: u64) -> Result<(), InvoiceError> {
        if now_ms >= self.request.expiry.saturating_mul(1_000) {
            Err(InvoiceError::Expired(self.request.expiry))
        } else {
            Ok(())
        }
    }
}
