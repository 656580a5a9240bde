//! Funds capacity (§4.2): the capital intermediaries must lock so that a sales volume can flow
//! through them, when every payment holds its amount locked at each of `I` intermediaries for
//! the process time `PT` until the HTLCs settle.

use serde::{Deserialize, Serialize};

use super::{ceil_quotient, count, non_negative, positive, PlanError};

/// Input of [`funds_capacity`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundsCapacityInput {
    /// `L`: value paid over the period, in dollars (Singles' Day 2019: $38.4 billion).
    pub volume: f64,
    /// `PP`: the period, in seconds (a day: 86,400).
    pub period_s: f64,
    /// `t`: time to pass a payment across one channel, in seconds.
    pub hop_time_s: f64,
    /// `I`: intermediaries on each payment's route (`I + 1` channels).
    pub intermediaries: u64,
}

/// Result of [`funds_capacity`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FundsCapacity {
    /// `PT = (I+1)·t`: how long a payment keeps funds locked.
    pub process_time_s: f64,
    /// `FC = V·PT/PP·I`: with value flowing uniformly, `V·PT/PP` is in flight at any moment and
    /// every intermediary locks that much (formula 4 with each `I_i = I`).
    pub funds_capacity: f64,
    /// `ceil(PP/PT)`: how many times the locked funds are freed and reused over the period
    /// (formula 5's multiplier; 1 when the period is no longer than the process time).
    pub reuse_windows: u64,
}

/// Funds the platform's intermediaries must lock to carry `volume` over `period_s`.
pub fn funds_capacity(input: &FundsCapacityInput) -> Result<FundsCapacity, PlanError> {
    let v = non_negative("volume", input.volume)?;
    let pp = positive("period_s", input.period_s)?;
    let t = positive("hop_time_s", input.hop_time_s)?;
    let i = count("intermediaries", input.intermediaries)?;
    let pt = (i as f64 + 1.0) * t;
    if !pt.is_finite() {
        return Err(PlanError::InvalidNumber {
            field: "process_time_s",
            value: pt,
        });
    }
    // At least one window even if `pp / pt` underflows to 0.
    let reuse_windows = ceil_quotient("reuse_windows", pp / pt)?.max(1);
    let fc = v * pt / pp * i as f64;
    if !fc.is_finite() {
        return Err(PlanError::InvalidNumber {
            field: "funds_capacity",
            value: fc,
        });
    }
    Ok(FundsCapacity {
        process_time_s: pt,
        funds_capacity: fc,
        reuse_windows,
    })
}
