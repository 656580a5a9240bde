//! The figures the paper states in section 4, next to what the models give for the same inputs.
//! The planner page shows this table; `tests/plan.rs` checks the same numbers one by one.

use serde::{Deserialize, Serialize};

use super::{
    build_time, funds_capacity, nodes, paper, single_platform, BuildTimeInput, FundsCapacityInput,
    NodesInput, PlanError, SinglePlatformInput, SECONDS_PER_DAY,
};

/// One stated figure and the model's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperCheck {
    /// Where the paper states it.
    pub source: String,
    /// What is computed, in words.
    pub claim: String,
    /// The paper's figure.
    pub paper: f64,
    /// The model's figure for the same inputs.
    pub model: f64,
    /// `count`, `usd` or `days`.
    pub unit: String,
    /// Whether the two agree to the precision the paper states them.
    pub agrees: bool,
    /// How they relate (rounding, or what is wrong).
    pub note: String,
}

fn check(
    source: &str,
    claim: &str,
    paper: f64,
    model: f64,
    unit: &str,
    rel_tolerance: f64,
    note: &str,
) -> PaperCheck {
    PaperCheck {
        source: source.into(),
        claim: claim.into(),
        paper,
        model,
        unit: unit.into(),
        agrees: (paper - model).abs() <= rel_tolerance * paper.abs(),
        note: note.into(),
    }
}

/// Every numeric claim of section 4 against the models.
pub fn paper_checks() -> Result<Vec<PaperCheck>, PlanError> {
    let node_count = |users| {
        nodes(&NodesInput {
            users,
            channels_per_node: paper::CHANNELS_PER_NODE,
        })
        .map(|r| r.nodes as f64)
    };
    let taobao_users = paper::TAOBAO_USERS + paper::TAOBAO_MERCHANTS;
    let taobao_nodes = node_count(taobao_users)?;
    let fc = |hop_time_s, intermediaries| {
        funds_capacity(&FundsCapacityInput {
            volume: paper::SINGLES_DAY_VALUE,
            period_s: SECONDS_PER_DAY,
            hop_time_s,
            intermediaries,
        })
        .map(|r| r.funds_capacity)
    };
    let days = |tps| {
        build_time(&BuildTimeInput {
            onchain_tx: paper::BUILD_ONCHAIN_TX,
            tps,
        })
        .map(|r| r.days)
    };
    let platform = |offchain_tx, hops| {
        single_platform(&SinglePlatformInput {
            customers: paper::TAOBAO_USERS,
            merchants: paper::TAOBAO_MERCHANTS,
            platform_nodes: taobao_nodes as u64,
            links_per_node: 2,
            offchain_tx,
            hops,
            onchain_fee: paper::ONCHAIN_FEE,
            hop_fee: paper::HOP_FEE,
            sidechain_fee: 0.0,
        })
    };
    let hop_fee = |hops| platform(2_000_000_000, hops).map(|r| r.fees.state_channel);
    Ok(vec![
        check(
            "Table 4",
            "Apple: nodes for 588 million users at 35,137 channels each",
            16_800.0,
            node_count(paper::APPLE_USERS)?,
            "count",
            0.005,
            "the paper rounds ceil(588e6 / 35,137) = 16,735 up to the hundred",
        ),
        check(
            "Table 4",
            "Taobao: nodes for 700 million users at 35,137 channels each",
            20_000.0,
            taobao_nodes,
            "count",
            0.005,
            "the paper rounds ceil(700e6 / 35,137) = 19,923 up to the thousand",
        ),
        check(
            "§4.2.1",
            "Funds capacity, $38.4 billion a day, t = 1 s, 1 intermediary",
            888_889.0,
            fc(1.0, 1)?,
            "usd",
            1e-6,
            "agrees",
        ),
        check(
            "§4.2.1",
            "Funds capacity, t = 1,500 s, 1 intermediary",
            1.3e9,
            fc(1_500.0, 1)?,
            "usd",
            0.05,
            "the paper states $1.33 billion to two figures",
        ),
        check(
            "§4.2.1",
            "Funds capacity, t = 1 s, 5 intermediaries",
            13.3e6,
            fc(1.0, 5)?,
            "usd",
            0.005,
            "agrees to the paper's three figures",
        ),
        check(
            "§4.3",
            "On-chain transactions to open the state channels (Taobao)",
            700e6,
            platform(0, 1)?.channels as f64,
            "count",
            0.001,
            "693 M customers + 7 M merchants + 19,923 platform channels; §4.3 itself says \
             6 M merchants and 700 M customers, which would make it 706 M",
        ),
        check(
            "§4.3",
            "Build time at Ethereum's 20 TPS",
            405.0,
            days(paper::ETHEREUM_TPS)?,
            "days",
            0.005,
            "the paper writes \"405 hundred days\"; the formula gives 405 days",
        ),
        check(
            "§4.3",
            "Build time at Istanbul's 3,000 TPS",
            2.7,
            days(paper::ISTANBUL_TPS)?,
            "days",
            0.005,
            "agrees",
        ),
        check(
            "Figure 16",
            "2 billion payments: 10 intermediaries cost more than 5 by",
            800_000.0,
            hop_fee(10)? - hop_fee(5)?,
            "usd",
            1e-6,
            "agrees: 2e9 × 5 × $0.00008",
        ),
        check(
            "Figure 16",
            "2 billion payments: 5 intermediaries cost more than 1 by",
            700_000.0,
            hop_fee(5)? - hop_fee(1)?,
            "usd",
            1e-6,
            "does not agree: 2e9 × 4 × $0.00008 = $640,000",
        ),
    ])
}
