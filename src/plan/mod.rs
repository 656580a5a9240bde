//! The deployment planner of the paper's section 4 ("Realising Layer 2 Technology for Potential
//! E-Commerce"): how many hub nodes a platform needs, what opening the channels costs on chain
//! compared with paying on chain or using a sidechain, what routing fees add, how much capital the
//! intermediaries must lock, and how long building the network takes.
//!
//! Everything here is pure arithmetic: no I/O, no clock. Every model takes a plain input struct
//! and returns a serde-serialisable result whose JSON is exactly what `l2pay plan <model>` prints
//! (the CLI in `src/bin/l2pay.rs` and the WASM exports in `src/wasm/plan.rs` are thin wrappers).
//!
//! Counts are `u64`; fees, values and times are `f64` — these are dollar *estimates*, not
//! channel balances (those are [`crate::Amount`] and never floats). Integer outputs are kept at
//! or below 2^53 − 1 so that they survive JSON and JavaScript unchanged.
//!
//! | model | module | paper |
//! |---|---|---|
//! | [`nodes`] | [`topology`] | Table 4 (nodes required) |
//! | [`single_merchant`] | [`topology`] | §4.1.1, formulas (1)–(2), Figure 13 |
//! | [`single_platform`] | [`topology`] | §4.1.2, formula (3), Figures 14–16 |
//! | [`funds_capacity`] | [`funds`] | §4.2, formulas (4)–(5) |
//! | [`build_time`] | [`build`] | §4.3 |
//! | [`payment_methods`] | [`methods`] | Table 3, Figure 12 |
//!
//! [`figures`] sweeps these models to produce the data behind the paper's Figures 12–16 (and a
//! funds-capacity plot the paper only gives as text); [`checks`] sets every figure section 4
//! states next to the models' value for the same inputs.

use thiserror::Error;

pub mod build;
pub mod checks;
pub mod figures;
pub mod funds;
pub mod methods;
pub mod topology;

pub use build::{build_time, BuildTime, BuildTimeInput};
pub use funds::{funds_capacity, FundsCapacity, FundsCapacityInput};
pub use methods::{payment_methods, MethodFee, PaymentMethods, PaymentMethodsInput};
pub use topology::{
    nodes, single_merchant, single_platform, Nodes, NodesInput, SingleMerchant, SingleMerchantFees,
    SingleMerchantInput, SinglePlatform, SinglePlatformFees, SinglePlatformInput,
};

/// Largest integer that JSON consumers (JavaScript in particular) represent exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Seconds in a day (the paper's `PP` for Singles' Day and the unit of [`BuildTime::days`]).
pub const SECONDS_PER_DAY: f64 = 86_400.0;

/// The paper's scenario figures, so callers (tests, the page's presets) use one source.
pub mod paper {
    /// Channels on the most connected Lightning node (1ML.com, 2019), adopted as the channel
    /// limit of one merchant or platform node.
    pub const CHANNELS_PER_NODE: u64 = 35_137;
    /// Apple's users worldwide (single-merchant example).
    pub const APPLE_USERS: u64 = 588_000_000;
    /// Taobao's active users in 2019 (single-platform example).
    pub const TAOBAO_USERS: u64 = 693_000_000;
    /// Taobao's merchants (§4.1.3; §4.3 says 6 million instead).
    pub const TAOBAO_MERCHANTS: u64 = 7_000_000;
    /// Average on-chain transaction fee the paper uses (Bitcoin, $0.21).
    pub const ONCHAIN_FEE: f64 = 0.21;
    /// Average Lightning intermediary fee: 1 satoshi ≈ $0.00008 (Nov 2019).
    pub const HOP_FEE: f64 = 0.000_08;
    /// Delivery orders on Singles' Day 2019 (CAINIAO).
    pub const SINGLES_DAY_ORDERS: u64 = 1_350_000_000;
    /// Value of those orders / Alibaba's Singles' Day 2019 sales, in dollars.
    pub const SINGLES_DAY_VALUE: f64 = 38.4e9;
    /// Ethereum's throughput the paper uses for the build time (§4.3).
    pub const ETHEREUM_TPS: f64 = 20.0;
    /// The Istanbul hard-fork's claimed throughput (§4.3).
    pub const ISTANBUL_TPS: f64 = 3_000.0;
    /// On-chain transactions §4.3 says opening the channels needs.
    pub const BUILD_ONCHAIN_TX: u64 = 700_000_000;
}

/// Why a model rejected its input. `code()` is the stable, machine-readable kind (the WASM
/// exports put it on the thrown `Error`'s `code` property).
#[derive(Clone, Debug, PartialEq, Error)]
pub enum PlanError {
    /// A number that is NaN, infinite or negative.
    #[error("{field} must be a finite, non-negative number (got {value})")]
    InvalidNumber { field: &'static str, value: f64 },
    /// A rate or divisor that must be strictly positive.
    #[error("{field} must be greater than zero")]
    Zero { field: &'static str },
    /// A count above 2^53 − 1, or an integer result that would exceed it.
    #[error("{field} exceeds 2^53 - 1 (9007199254740991)")]
    TooLarge { field: &'static str },
    /// Inputs that are each valid but cannot describe a real network together.
    #[error("{0}")]
    Inconsistent(String),
}

impl PlanError {
    /// Stable error kind, in the style of [`crate::Error::code`]: `INVALID_NUMBER`,
    /// `NOT_POSITIVE`, `TOO_LARGE` or `INCONSISTENT_INPUT`.
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::InvalidNumber { .. } => "INVALID_NUMBER",
            PlanError::Zero { .. } => "NOT_POSITIVE",
            PlanError::TooLarge { .. } => "TOO_LARGE",
            PlanError::Inconsistent(_) => "INCONSISTENT_INPUT",
        }
    }
}

/// A finite, non-negative number (fees, values, volumes may be zero).
pub(crate) fn non_negative(field: &'static str, value: f64) -> Result<f64, PlanError> {
    if value.is_finite() && value >= 0.0 {
        // -0.0 passes `>= 0.0`; make it +0.0 so no result prints as -0.0.
        Ok(if value == 0.0 { 0.0 } else { value })
    } else {
        Err(PlanError::InvalidNumber { field, value })
    }
}

/// A finite, strictly positive number (rates, periods, times).
pub(crate) fn positive(field: &'static str, value: f64) -> Result<f64, PlanError> {
    non_negative(field, value)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(PlanError::Zero { field })
    }
}

/// A count no larger than [`MAX_SAFE_INTEGER`].
pub(crate) fn count(field: &'static str, value: u64) -> Result<u64, PlanError> {
    if value <= MAX_SAFE_INTEGER {
        Ok(value)
    } else {
        Err(PlanError::TooLarge { field })
    }
}

/// A count that must also be at least 1.
pub(crate) fn positive_count(field: &'static str, value: u64) -> Result<u64, PlanError> {
    count(field, value)?;
    if value == 0 {
        Err(PlanError::Zero { field })
    } else {
        Ok(value)
    }
}

/// Integer sum/product of counts, kept within [`MAX_SAFE_INTEGER`].
pub(crate) fn checked(field: &'static str, value: Option<u64>) -> Result<u64, PlanError> {
    match value {
        Some(v) if v <= MAX_SAFE_INTEGER => Ok(v),
        _ => Err(PlanError::TooLarge { field }),
    }
}

/// `ceil(x)` for a non-negative quotient, forgiving the last-bit error of a float division
/// (`0.69 / 0.23` is `3.0000000000000004` in binary floating point and must give 3, not 4).
pub(crate) fn ceil_quotient(field: &'static str, x: f64) -> Result<u64, PlanError> {
    let nearest = x.round();
    let c = if (x - nearest).abs() <= nearest.abs() * 4.0 * f64::EPSILON {
        nearest
    } else {
        x.ceil()
    };
    if c.is_finite() && c <= MAX_SAFE_INTEGER as f64 {
        Ok(c as u64)
    } else {
        Err(PlanError::TooLarge { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_quotient_forgives_float_noise() {
        assert_eq!(ceil_quotient("x", 0.69 / 0.23).unwrap(), 3);
        assert_eq!(ceil_quotient("x", 2.5).unwrap(), 3);
        assert_eq!(ceil_quotient("x", 3.0).unwrap(), 3);
        assert_eq!(ceil_quotient("x", 0.0).unwrap(), 0);
        assert_eq!(ceil_quotient("x", 1e-300).unwrap(), 1);
        assert!(ceil_quotient("x", 1e300).is_err());
    }

    #[test]
    fn negative_zero_is_zero() {
        assert!(non_negative("x", -0.0).unwrap().is_sign_positive());
        assert!(positive("x", -0.0).is_err());
    }
}
