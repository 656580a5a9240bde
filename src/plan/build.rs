//! Time to construct the network (§4.3): how long the chain takes to carry the on-chain
//! transactions that open every channel, if it did nothing else.

use serde::{Deserialize, Serialize};

use super::{count, positive, PlanError, SECONDS_PER_DAY};

/// Input of [`build_time`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildTimeInput {
    /// On-chain transactions needed (the paper: 700 million).
    pub onchain_tx: u64,
    /// Chain throughput in transactions per second (Ethereum 20, Istanbul 3,000).
    pub tps: f64,
}

/// Result of [`build_time`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildTime {
    /// `N / R`.
    pub seconds: f64,
    /// `N / R / 86400`.
    pub days: f64,
}

/// Seconds and days of full chain capacity needed to open the network.
pub fn build_time(input: &BuildTimeInput) -> Result<BuildTime, PlanError> {
    let n = count("onchain_tx", input.onchain_tx)? as f64;
    let r = positive("tps", input.tps)?;
    let seconds = n / r;
    if !seconds.is_finite() {
        return Err(PlanError::InvalidNumber {
            field: "seconds",
            value: seconds,
        });
    }
    Ok(BuildTime {
        seconds,
        days: seconds / SECONDS_PER_DAY,
    })
}
