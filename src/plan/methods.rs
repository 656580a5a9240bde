//! Payment methods (Table 3) applied to a volume of transactions: the bars of Figure 12.

use serde::{Deserialize, Serialize};

use super::{count, non_negative, PlanError};

/// How one method of Table 3 charges.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Charge {
    /// A share of the value, low–high (credit cards: 1.5–2.9 %).
    Percent { low: f64, high: f64 },
    /// A flat fee per transaction, low–high, in dollars.
    PerTx { low: f64, high: f64 },
}

/// One row of Table 3 (fee, speed and settlement time as the paper states them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Method {
    /// Machine name, as printed in [`MethodFee::name`].
    pub name: &'static str,
    /// Human label.
    pub label: &'static str,
    pub charge: Charge,
    /// Throughput the paper gives, in transactions per second.
    pub tps: f64,
    /// Settlement time as the paper states it.
    pub settlement: &'static str,
}

/// Table 3, in the paper's order.
pub const TABLE_3: [Method; 5] = [
    Method {
        name: "credit_card",
        label: "Credit card",
        charge: Charge::Percent {
            low: 0.015,
            high: 0.029,
        },
        tps: 1_700.0,
        settlement: "24 hours - 3 days",
    },
    Method {
        name: "bitcoin",
        label: "Layer 1 - Bitcoin",
        charge: Charge::PerTx {
            low: 0.21,
            high: 0.21,
        },
        tps: 7.0,
        settlement: "10 minutes - 1 hour",
    },
    Method {
        name: "ethereum",
        label: "Layer 1 - Ethereum",
        charge: Charge::PerTx {
            low: 0.11,
            high: 0.39,
        },
        tps: 8.0,
        settlement: "15 seconds - 5 minutes",
    },
    Method {
        name: "lightning",
        label: "Layer 2 - Lightning Network",
        charge: Charge::PerTx {
            low: 0.000_08,
            high: 0.000_08,
        },
        tps: 1_000_000.0,
        settlement: "when participants close the channel",
    },
    Method {
        name: "plasma",
        label: "Layer 2 - Plasma",
        charge: Charge::PerTx {
            low: 0.0,
            high: 0.0,
        },
        tps: 22_000.0,
        settlement: "when participants withdraw to the main chain",
    },
];

/// Input of [`payment_methods`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodsInput {
    /// Transactions (Singles' Day 2019: 1.35 billion orders).
    pub transactions: u64,
    /// Their total value in dollars (Singles' Day 2019: $38.4 billion).
    pub value: f64,
}

/// Total fees of one method over the whole volume, in dollars.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodFee {
    pub name: String,
    pub fee_low: f64,
    pub fee_high: f64,
}

/// Result of [`payment_methods`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaymentMethods {
    pub methods: Vec<MethodFee>,
}

/// Fees of every method of Table 3 for `transactions` payments worth `value` in total (the
/// paper assumes everyone is already on Lightning or Plasma, so Layer 2 has no setup cost here).
pub fn payment_methods(input: &PaymentMethodsInput) -> Result<PaymentMethods, PlanError> {
    let n = count("transactions", input.transactions)? as f64;
    let v = non_negative("value", input.value)?;
    let methods = TABLE_3
        .iter()
        .map(|m| {
            let (fee_low, fee_high) = match m.charge {
                Charge::Percent { low, high } => (v * low, v * high),
                Charge::PerTx { low, high } => (n * low, n * high),
            };
            MethodFee {
                name: m.name.to_string(),
                fee_low,
                fee_high,
            }
        })
        .collect();
    Ok(PaymentMethods { methods })
}
