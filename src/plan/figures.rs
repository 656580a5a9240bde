//! Sweeps of the models that give the data behind the paper's Figures 12–16, and the paper's
//! scenarios as ready-made inputs. The planner page plots exactly these series.

use serde::{Deserialize, Serialize};

use super::methods::{Charge, TABLE_3};
use super::{
    count, funds_capacity, nodes, non_negative, paper, positive, single_merchant, single_platform,
    BuildTimeInput, FundsCapacityInput, NodesInput, PaymentMethodsInput, PlanError,
    SingleMerchantInput, SinglePlatformInput, SECONDS_PER_DAY,
};

/// Most points one series may have (the sweeps are for plotting).
pub const MAX_STEPS: u32 = 2_000;

/// One line of a plot: `(x, y)` points in increasing `x`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub label: String,
    pub points: Vec<[f64; 2]>,
}

/// A plot: axis labels and its lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// `steps + 1` evenly spaced integer points from 0 to `max` (inclusive).
fn integer_steps(max: u64, steps: u32) -> Result<Vec<u64>, PlanError> {
    let max = count("max_transactions", max)?;
    let steps = check_steps(steps)?;
    Ok((0..=steps as u64)
        .map(|i| ((max as f64) * i as f64 / steps as f64).round() as u64)
        .collect())
}

fn check_steps(steps: u32) -> Result<u32, PlanError> {
    if steps == 0 {
        return Err(PlanError::Zero { field: "steps" });
    }
    if steps > MAX_STEPS {
        return Err(PlanError::Inconsistent(format!(
            "steps must be at most {MAX_STEPS}, not {steps}"
        )));
    }
    Ok(steps)
}

/// `588000000` → `588,000,000` for titles.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn dollars(x: f64) -> String {
    if x == 0.0 {
        "no".to_string()
    } else {
        format!("${x}")
    }
}

/// Input of [`fee_by_method`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodSweepInput {
    /// Largest number of transactions on the x axis.
    pub max_transactions: u64,
    /// Average value of one transaction in dollars (Singles' Day: 38.4e9 / 1.35e9 ≈ $28.44).
    pub value_per_tx: f64,
    pub steps: u32,
}

/// Figure 12 as lines: fee cost against the number of transactions for every method of
/// Table 3 (a `(low)` and `(high)` line where the paper gives a range).
pub fn fee_by_method(input: &MethodSweepInput) -> Result<Figure, PlanError> {
    let xs = integer_steps(input.max_transactions, input.steps)?;
    let per_tx = non_negative("value_per_tx", input.value_per_tx)?;
    let mut series = Vec::new();
    for m in TABLE_3.iter() {
        let (low, high, percent) = match m.charge {
            Charge::Percent { low, high } => (low, high, true),
            Charge::PerTx { low, high } => (low, high, false),
        };
        let line = |rate: f64| -> Vec<[f64; 2]> {
            xs.iter()
                .map(|&n| {
                    let n = n as f64;
                    let fee = if percent { n * per_tx * rate } else { n * rate };
                    [n, fee]
                })
                .collect()
        };
        if low == high {
            series.push(Series {
                label: m.label.to_string(),
                points: line(low),
            });
        } else {
            for (which, rate) in [("low", low), ("high", high)] {
                series.push(Series {
                    label: format!("{} ({which})", m.label),
                    points: line(rate),
                });
            }
        }
    }
    Ok(Figure {
        title: "Fee costs of payment methods".into(),
        x_label: "Number of transactions".into(),
        y_label: "Total fee ($)".into(),
        series,
    })
}

/// Input of [`single_merchant_fees`] (Figure 13).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SingleMerchantSweepInput {
    /// Customers, merchant nodes and fees; its `offchain_tx` and `sidechain_fee` are ignored.
    pub base: SingleMerchantInput,
    pub max_transactions: u64,
    pub steps: u32,
    /// One sidechain line per fee (the paper: 0, 0.01, 0.05).
    pub sidechain_fees: Vec<f64>,
}

/// Figure 13: total fees against the number of transactions for the single-merchant topology —
/// on chain, state channels, and a sidechain at each of `sidechain_fees`.
pub fn single_merchant_fees(input: &SingleMerchantSweepInput) -> Result<Figure, PlanError> {
    let xs = integer_steps(input.max_transactions, input.steps)?;
    let mut direct = Vec::with_capacity(xs.len());
    let mut channel = Vec::with_capacity(xs.len());
    let mut side: Vec<Vec<[f64; 2]>> =
        vec![Vec::with_capacity(xs.len()); input.sidechain_fees.len()];
    for &t in &xs {
        for (j, &s) in input.sidechain_fees.iter().enumerate() {
            let r = single_merchant(&SingleMerchantInput {
                offchain_tx: t,
                sidechain_fee: s,
                ..input.base
            })?;
            side[j].push([t as f64, r.fees.sidechain]);
        }
        let r = single_merchant(&SingleMerchantInput {
            offchain_tx: t,
            ..input.base
        })?;
        direct.push([t as f64, r.fees.onchain_direct]);
        channel.push([t as f64, r.fees.state_channel]);
    }
    let mut series = vec![
        Series {
            label: "On chain (direct)".into(),
            points: direct,
        },
        Series {
            label: "State channels".into(),
            points: channel,
        },
    ];
    for (s, points) in input.sidechain_fees.iter().zip(side) {
        series.push(Series {
            label: format!("Sidechain, {} sidechain fee", dollars(*s)),
            points,
        });
    }
    Ok(Figure {
        title: format!(
            "Single merchant, {} customers",
            grouped(input.base.customers)
        ),
        x_label: "Number of transactions".into(),
        y_label: "Total fee ($)".into(),
        series,
    })
}

/// Input of [`single_platform_fees`] (Figure 14), [`fees_by_links`] (Figure 15) and
/// [`fees_by_hops`] (Figure 16).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SinglePlatformSweepInput {
    /// The topology and fees; its `offchain_tx` is ignored, and so is the field each figure
    /// varies (`sidechain_fee`, `links_per_node` or `hops`).
    pub base: SinglePlatformInput,
    pub max_transactions: u64,
    pub steps: u32,
    /// The values the figure draws one line for: sidechain fees (Figure 14), links per node
    /// (Figure 15) or hops (Figure 16; whole numbers).
    pub values: Vec<f64>,
}

fn whole(field: &'static str, v: f64) -> Result<u64, PlanError> {
    let v = non_negative(field, v)?;
    if v.fract() != 0.0 {
        return Err(PlanError::Inconsistent(format!(
            "{field} must be a whole number, not {v}"
        )));
    }
    count(field, v as u64)
}

/// Figure 14: total fees against the number of transactions for the single-platform topology —
/// on chain, state channels, and a sidechain at each fee in `values`.
pub fn single_platform_fees(input: &SinglePlatformSweepInput) -> Result<Figure, PlanError> {
    let xs = integer_steps(input.max_transactions, input.steps)?;
    let at = |t: u64, s: f64| {
        single_platform(&SinglePlatformInput {
            offchain_tx: t,
            sidechain_fee: s,
            ..input.base
        })
    };
    let mut series = vec![
        Series {
            label: "On chain (direct)".into(),
            points: Vec::new(),
        },
        Series {
            label: "State channels".into(),
            points: Vec::new(),
        },
    ];
    for &t in &xs {
        let r = at(t, input.base.sidechain_fee)?;
        series[0].points.push([t as f64, r.fees.onchain_direct]);
        series[1].points.push([t as f64, r.fees.state_channel]);
    }
    for &s in &input.values {
        let points = xs
            .iter()
            .map(|&t| Ok([t as f64, at(t, s)?.fees.sidechain]))
            .collect::<Result<_, PlanError>>()?;
        series.push(Series {
            label: format!("Sidechain, {} sidechain fee", dollars(s)),
            points,
        });
    }
    Ok(Figure {
        title: format!(
            "Single platform, {} customers and {} merchants",
            grouped(input.base.customers),
            grouped(input.base.merchants)
        ),
        x_label: "Number of transactions".into(),
        y_label: "Total fee ($)".into(),
        series,
    })
}

/// Figure 15: state-channel fees against the number of transactions, one line per number of
/// links each platform node opens to other platform nodes.
pub fn fees_by_links(input: &SinglePlatformSweepInput) -> Result<Figure, PlanError> {
    let xs = integer_steps(input.max_transactions, input.steps)?;
    let mut series = Vec::new();
    for &k in &input.values {
        let k = whole("links_per_node", k)?;
        let points = xs
            .iter()
            .map(|&t| {
                let r = single_platform(&SinglePlatformInput {
                    offchain_tx: t,
                    links_per_node: k,
                    ..input.base
                })?;
                Ok([t as f64, r.fees.state_channel])
            })
            .collect::<Result<_, PlanError>>()?;
        series.push(Series {
            label: format!("{k} link{} per node", if k == 1 { "" } else { "s" }),
            points,
        });
    }
    Ok(Figure {
        title: format!(
            "State channels with {} platform nodes, by links per node",
            grouped(input.base.platform_nodes)
        ),
        x_label: "Number of transactions".into(),
        y_label: "Total fee ($)".into(),
        series,
    })
}

/// Figure 16: state-channel fees against the number of transactions, one line per number of
/// intermediaries each payment passes through.
pub fn fees_by_hops(input: &SinglePlatformSweepInput) -> Result<Figure, PlanError> {
    let xs = integer_steps(input.max_transactions, input.steps)?;
    let mut series = Vec::new();
    for &i in &input.values {
        let i = whole("hops", i)?;
        let points = xs
            .iter()
            .map(|&t| {
                let r = single_platform(&SinglePlatformInput {
                    offchain_tx: t,
                    hops: i,
                    ..input.base
                })?;
                Ok([t as f64, r.fees.state_channel])
            })
            .collect::<Result<_, PlanError>>()?;
        series.push(Series {
            label: format!("{i} intermediar{}", if i == 1 { "y" } else { "ies" }),
            points,
        });
    }
    Ok(Figure {
        title: "State channels by number of intermediaries".into(),
        x_label: "Number of transactions".into(),
        y_label: "Total fee ($)".into(),
        series,
    })
}

/// Input of [`funds_by_hop_time`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundsSweepInput {
    pub volume: f64,
    pub period_s: f64,
    /// Largest hop time on the x axis, in seconds; the sweep starts at `max_hop_time_s / steps`.
    pub max_hop_time_s: f64,
    pub steps: u32,
    /// One line per number of intermediaries.
    pub intermediaries: Vec<u64>,
}

/// Funds capacity against the hop time, one line per number of intermediaries (§4.2.1 gives
/// these numbers as text; the paper has no figure for them).
pub fn funds_by_hop_time(input: &FundsSweepInput) -> Result<Figure, PlanError> {
    let steps = check_steps(input.steps)?;
    let max_t = positive("max_hop_time_s", input.max_hop_time_s)?;
    let mut series = Vec::new();
    for &i in &input.intermediaries {
        let points = (1..=steps)
            .map(|j| {
                let t = max_t * j as f64 / steps as f64;
                let r = funds_capacity(&FundsCapacityInput {
                    volume: input.volume,
                    period_s: input.period_s,
                    hop_time_s: t,
                    intermediaries: i,
                })?;
                Ok([t, r.funds_capacity])
            })
            .collect::<Result<_, PlanError>>()?;
        series.push(Series {
            label: format!("{i} intermediar{}", if i == 1 { "y" } else { "ies" }),
            points,
        });
    }
    Ok(Figure {
        title: "Funds capacity by hop time".into(),
        x_label: "Hop time t (s)".into(),
        y_label: "Funds locked ($)".into(),
        series,
    })
}

/// The paper's scenarios as model inputs (the planner page's presets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scenarios {
    /// Table 4, Apple: 588 million users at 35,137 channels per node.
    pub apple_nodes: NodesInput,
    /// Table 4, Taobao: 693 million customers + 7 million merchants.
    pub taobao_nodes: NodesInput,
    /// Figure 13: Apple as a single merchant, nodes from Table 4's model, $0.21 on-chain fee.
    pub apple: SingleMerchantInput,
    /// Figures 14–16: Taobao as a single platform, 2 links per node and 1 intermediary (the
    /// paper's recommended compromise), Lightning's $0.00008 hop fee.
    pub taobao: SinglePlatformInput,
    /// Figure 12: Singles' Day 2019, 1.35 billion orders worth $38.4 billion.
    pub singles_day_methods: PaymentMethodsInput,
    /// §4.2.1: $38.4 billion over a day, 1 s per hop, 1 intermediary.
    pub singles_day_funds: FundsCapacityInput,
    /// §4.3: 700 million channel openings at Ethereum's 20 TPS.
    pub build: BuildTimeInput,
}

/// The paper's scenarios. Node counts are computed with [`nodes`] (16,735 for Apple, 19,923
/// for Taobao) rather than Table 4's rounded 16,800 and 20,000.
pub fn scenarios() -> Scenarios {
    let apple_nodes = NodesInput {
        users: paper::APPLE_USERS,
        channels_per_node: paper::CHANNELS_PER_NODE,
    };
    let taobao_nodes = NodesInput {
        users: paper::TAOBAO_USERS + paper::TAOBAO_MERCHANTS,
        channels_per_node: paper::CHANNELS_PER_NODE,
    };
    let node_count = |n: &NodesInput| nodes(n).map(|r| r.nodes).unwrap_or(0);
    Scenarios {
        apple: SingleMerchantInput {
            customers: paper::APPLE_USERS,
            merchant_nodes: node_count(&apple_nodes),
            offchain_tx: 2 * paper::APPLE_USERS,
            onchain_fee: paper::ONCHAIN_FEE,
            sidechain_fee: 0.0,
        },
        taobao: SinglePlatformInput {
            customers: paper::TAOBAO_USERS,
            merchants: paper::TAOBAO_MERCHANTS,
            platform_nodes: node_count(&taobao_nodes),
            links_per_node: 2,
            offchain_tx: paper::SINGLES_DAY_ORDERS,
            hops: 1,
            onchain_fee: paper::ONCHAIN_FEE,
            hop_fee: paper::HOP_FEE,
            sidechain_fee: 0.0,
        },
        apple_nodes,
        taobao_nodes,
        singles_day_methods: PaymentMethodsInput {
            transactions: paper::SINGLES_DAY_ORDERS,
            value: paper::SINGLES_DAY_VALUE,
        },
        singles_day_funds: FundsCapacityInput {
            volume: paper::SINGLES_DAY_VALUE,
            period_s: SECONDS_PER_DAY,
            hop_time_s: 1.0,
            intermediaries: 1,
        },
        build: BuildTimeInput {
            onchain_tx: paper::BUILD_ONCHAIN_TX,
            tps: paper::ETHEREUM_TPS,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;

    #[track_caller]
    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
    }

    fn sweep(values: Vec<f64>) -> SinglePlatformSweepInput {
        SinglePlatformSweepInput {
            base: scenarios().taobao,
            max_transactions: 2_000_000_000,
            steps: 4,
            values,
        }
    }

    #[test]
    fn figure_sweeps_match_the_models() {
        let f = fees_by_hops(&sweep(vec![1.0, 5.0, 10.0])).unwrap();
        assert_eq!(f.series.len(), 3);
        assert_eq!(f.series[2].label, "10 intermediaries");
        let last = |s: &Series| s.points.last().copied().unwrap();
        assert_eq!(last(&f.series[0])[0], 2e9);
        close(last(&f.series[2])[1] - last(&f.series[1])[1], 800_000.0);
        assert!(f.series.iter().all(|s| s.points.len() == 5));

        let f = fees_by_links(&sweep(vec![1.0, 2.0, 10.0, 100.0])).unwrap();
        let ends: Vec<f64> = f.series.iter().map(|s| last(s)[1]).collect();
        assert!(ends.windows(2).all(|w| w[0] < w[1]));
        assert!(fees_by_links(&sweep(vec![1.5])).is_err());
        assert!(fees_by_hops(&sweep(vec![-1.0])).is_err());

        let f = single_platform_fees(&sweep(vec![0.0, 0.01, 0.05])).unwrap();
        assert_eq!(f.series.len(), 5);
        assert_eq!(f.series[2].label, "Sidechain, no sidechain fee");

        let f = single_merchant_fees(&SingleMerchantSweepInput {
            base: scenarios().apple,
            max_transactions: 3_000_000_000,
            steps: 3,
            sidechain_fees: vec![0.0, 0.01, 0.05],
        })
        .unwrap();
        assert_eq!(f.series.len(), 5);
        assert_eq!(
            f.series[0].points,
            [[0.0, 0.0], [1e9, 2.1e8], [2e9, 4.2e8], [3e9, 6.3e8]]
        );

        let f = fee_by_method(&MethodSweepInput {
            max_transactions: 1_350_000_000,
            value_per_tx: 38.4e9 / 1.35e9,
            steps: 10,
        })
        .unwrap();
        // Credit card and Ethereum get a low and a high line.
        assert_eq!(f.series.len(), 7);
        close(last(&f.series[1])[1], 1_113_600_000.0);

        let f = funds_by_hop_time(&FundsSweepInput {
            volume: 38.4e9,
            period_s: 86_400.0,
            max_hop_time_s: 1_500.0,
            steps: 1_500,
            intermediaries: vec![1, 5],
        })
        .unwrap();
        close(f.series[0].points[0][1], 888_888.888_888_889);
        close(last(&f.series[0])[1], 4e9 / 3.0);
        close(f.series[1].points[0][1], 4e7 / 3.0);

        let bad_steps = SinglePlatformSweepInput {
            steps: 0,
            ..sweep(vec![1.0])
        };
        assert_eq!(fees_by_hops(&bad_steps).unwrap_err().code(), "NOT_POSITIVE");
        let too_many = SinglePlatformSweepInput {
            steps: MAX_STEPS + 1,
            ..sweep(vec![1.0])
        };
        assert!(fees_by_hops(&too_many).is_err());
    }

    #[test]
    fn scenarios_are_the_papers() {
        let s = scenarios();
        assert_eq!(plan::nodes(&s.apple_nodes).unwrap().nodes, 16_735);
        assert_eq!(plan::nodes(&s.taobao_nodes).unwrap().nodes, 19_923);
        assert_eq!(s.taobao.platform_nodes, 19_923);
        assert_eq!((s.taobao.links_per_node, s.taobao.hops), (2, 1));
        close(s.taobao.hop_fee, 0.000_08);
        close(s.singles_day_funds.volume, 38.4e9);
        assert_eq!(s.build.onchain_tx, 700_000_000);
    }

    #[test]
    fn grouped_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(588_000_000), "588,000,000");
        assert_eq!(grouped(19_923), "19,923");
    }
}
