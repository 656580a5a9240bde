//! Typed errors. Every rejected input leaves the channel exactly as it was.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::serde_util::amount;
use crate::Amount;

/// A signature that does not prove what it claims.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum SignatureError {
    #[error("malformed signature (length, v, r or s out of range)")]
    Malformed,
    #[error("signature has a high s value (malleable); only low-s is accepted")]
    HighS,
    #[error("signature does not recover to any public key")]
    Invalid,
    #[error("signed by {got}, expected {expected}")]
    WrongSigner { expected: Address, got: Address },
    #[error("secret key is zero or not below the curve order")]
    BadKey,
}

/// An operation that is not valid on the current state.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum UpdateError {
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("balance {available} is less than {requested}")]
    Overspend {
        #[serde(with = "amount")]
        available: Amount,
        #[serde(with = "amount")]
        requested: Amount,
    },
    #[error("payment id {0} was already used")]
    DuplicatePayment(B256),
    #[error("no payment {0} to refund")]
    UnknownPayment(B256),
    #[error("only the payee of a payment can refund it")]
    NotPayee,
    #[error("refund of {requested} exceeds the {remaining} left to refund")]
    RefundExceedsPayment {
        #[serde(with = "amount")]
        remaining: Amount,
        #[serde(with = "amount")]
        requested: Amount,
    },
    #[error("no pending HTLC {id} from that side")]
    UnknownHtlc { id: u64 },
    #[error("HTLC id {id} is not above the last id {last} used by its sender")]
    HtlcIdReused { id: u64, last: u64 },
    #[error("too many pending HTLCs (max {max})")]
    TooManyHtlcs { max: usize },
    #[error("preimage does not hash to the payment hash")]
    WrongPreimage,
    #[error("HTLC expired at {expiry}")]
    HtlcExpired { expiry: u64 },
    #[error("HTLC does not expire until {expiry}")]
    HtlcNotExpired { expiry: u64 },
    #[error("HTLC expiry {expiry} is before the earliest safe expiry {earliest}")]
    ExpiryTooSoon { expiry: u64, earliest: u64 },
    #[error("HTLC expiry {expiry} is after the latest accepted expiry {latest}")]
    ExpiryTooLate { expiry: u64, latest: u64 },
    #[error("only the receiver of an HTLC can settle or fail it")]
    NotHtlcReceiver,
    #[error("only the sender of an HTLC can expire it")]
    NotHtlcSender,
    #[error("deposit total {total} has not been seen on chain (chain shows {seen})")]
    DepositNotSeen {
        #[serde(with = "amount")]
        total: Amount,
        #[serde(with = "amount")]
        seen: Amount,
    },
    #[error("deposit total {total} does not exceed the recognised {recognised}")]
    DepositNotIncreasing {
        #[serde(with = "amount")]
        total: Amount,
        #[serde(with = "amount")]
        recognised: Amount,
    },
    #[error("cannot close with pending HTLCs")]
    HtlcsPending,
    #[error("the channel is not funded on chain yet")]
    NotFunded,
    #[error("channel is closed by a final state")]
    ChannelFinal,
    #[error("arithmetic overflow")]
    Overflow,
    #[error("balance invariant violated")]
    InvariantViolated,
}

/// Any error the channel core reports. After an error the channel state is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum Error {
    #[error("invalid update: {0}")]
    Update(#[from] UpdateError),
    #[error("bad signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("unknown channel {0}")]
    UnknownChannel(B256),
    #[error("stale nonce {got}; the channel is at {current}")]
    StaleNonce { got: u64, current: u64 },
    #[error("nonce {got} must be above {min}")]
    NonceTooLow { got: u64, min: u64 },
    #[error("nonce {got} is beyond {max}, the highest this channel accepts now")]
    NonceTooHigh { got: u64, max: u64 },
    #[error("the channel has used up its nonces and must be closed on chain")]
    NoncesExhausted,
    #[error("{max} ops are already queued on this channel")]
    QueueFull { max: usize },
    #[error("proposal builds on nonce {got}, but the agreed state is {agreed}")]
    BaseMismatch { got: u64, agreed: u64 },
    #[error("message replays an earlier one with different content")]
    Replay,
    #[error("peer signed two different states with nonce {nonce}")]
    Equivocation { nonce: u64 },
    #[error("peer showed a state it cannot hold: {0}")]
    Desync(String),
    #[error("frame of {size} bytes exceeds the {max}-byte maximum")]
    FrameTooLarge { size: usize, max: usize },
    #[error("unsupported wire version {0}")]
    UnsupportedVersion(u8),
    #[error("malformed message: {0}")]
    Decode(String),
    #[error("channel has failed and must be settled on chain: {0}")]
    Failed(String),
    #[error("an update is already in flight")]
    Busy,
    #[error("not connected to the hub yet")]
    NotConnected,
    #[error("invoice: {0}")]
    Invoice(String),
    #[error("payment {0} was already made from this channel")]
    AlreadyPaid(B256),
    #[error("payment {0} is already in flight on this channel")]
    PaymentInFlight(B256),
    #[error("the hub would refuse this channel: {0}")]
    Refused(String),
}

impl Error {
    /// Whether the driver must take the channel to chain: the peer proved itself dishonest or
    /// the off-chain protocol can no longer be trusted to protect our funds.
    pub fn requires_chain(&self) -> bool {
        matches!(
            self,
            Error::Equivocation { .. }
                | Error::Desync(_)
                | Error::Failed(_)
                | Error::NoncesExhausted
        )
    }

    /// A stable machine-readable code (used by the JS `Error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Update(_) => "INVALID_UPDATE",
            Error::Signature(_) => "BAD_SIGNATURE",
            Error::UnknownChannel(_) => "UNKNOWN_CHANNEL",
            Error::StaleNonce { .. } => "STALE_NONCE",
            Error::NonceTooLow { .. } => "NONCE_TOO_LOW",
            Error::NonceTooHigh { .. } => "NONCE_TOO_HIGH",
            Error::NoncesExhausted => "NONCES_EXHAUSTED",
            Error::QueueFull { .. } => "QUEUE_FULL",
            Error::BaseMismatch { .. } => "BASE_MISMATCH",
            Error::Replay => "REPLAY",
            Error::Equivocation { .. } => "EQUIVOCATION",
            Error::Desync(_) => "DESYNC",
            Error::FrameTooLarge { .. } => "FRAME_TOO_LARGE",
            Error::UnsupportedVersion(_) => "UNSUPPORTED_VERSION",
            Error::Decode(_) => "MALFORMED",
            Error::Failed(_) => "CHANNEL_FAILED",
            Error::Busy => "BUSY",
            Error::NotConnected => "NOT_CONNECTED",
            Error::Invoice(_) => "INVALID_INVOICE",
            Error::AlreadyPaid(_) => "ALREADY_PAID",
            Error::PaymentInFlight(_) => "PAYMENT_IN_FLIGHT",
            Error::Refused(_) => "BAD_CHANNEL",
        }
    }
}
