//! `l2pay plan <model> [flags]`: the paper's deployment planner (see `l2pay::plan`) on the
//! command line. Prints one JSON object on stdout; on a missing, unknown or invalid flag prints a
//! message on stderr and exits with status 2.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use l2pay::plan::{self, PlanError, MAX_SAFE_INTEGER};

/// What a flag's value must be.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A whole number ≥ 0.
    Count,
    /// A whole number ≥ 1.
    PositiveCount,
    /// A finite number ≥ 0 (fees, values).
    Number,
    /// A finite number > 0 (rates, periods, times).
    Rate,
}

struct Flag {
    name: &'static str,
    kind: Kind,
    /// `None`: required.
    default: Option<f64>,
    help: &'static str,
}

const fn req(name: &'static str, kind: Kind, help: &'static str) -> Flag {
    Flag {
        name,
        kind,
        default: None,
        help,
    }
}

const fn opt(name: &'static str, kind: Kind, default: f64, help: &'static str) -> Flag {
    Flag {
        name,
        kind,
        default: Some(default),
        help,
    }
}

struct Model {
    name: &'static str,
    about: &'static str,
    flags: &'static [Flag],
}

use Kind::*;

const MODELS: &[Model] = &[
    Model {
        name: "nodes",
        about: "hub nodes needed: ceil(users / channels-per-node)",
        flags: &[
            req("users", Count, "users that each need a channel"),
            req(
                "channels-per-node",
                PositiveCount,
                "channels one node can hold",
            ),
        ],
    },
    Model {
        name: "single-merchant",
        about: "fees of one merchant's customers: on chain, state channels, sidechain",
        flags: &[
            req("customers", Count, "customers, one channel each"),
            req("merchant-nodes", Count, "nodes the merchant runs"),
            req("offchain-tx", Count, "payments in total"),
            req("onchain-fee", Number, "dollars per on-chain transaction"),
            opt(
                "sidechain-fee",
                Number,
                0.0,
                "dollars per sidechain transaction",
            ),
        ],
    },
    Model {
        name: "single-platform",
        about: "fees of a platform between customers and merchants",
        flags: &[
            req("customers", Count, "customers, one channel each"),
            req("merchants", Count, "merchants, one channel each"),
            req("platform-nodes", Count, "the platform's hub nodes"),
            req(
                "links-per-node",
                Count,
                "channels each platform node opens to others",
            ),
            req("offchain-tx", Count, "payments in total"),
            req("hops", Count, "intermediaries per payment"),
            req("onchain-fee", Number, "dollars per on-chain transaction"),
            req(
                "hop-fee",
                Number,
                "dollars each intermediary charges per payment",
            ),
            opt(
                "sidechain-fee",
                Number,
                0.0,
                "dollars per sidechain transaction",
            ),
        ],
    },
    Model {
        name: "funds-capacity",
        about: "funds intermediaries must lock to carry a volume",
        flags: &[
            req("volume", Number, "value paid over the period, dollars"),
            req("period-s", Rate, "the period, seconds"),
            req("hop-time-s", Rate, "time per channel hop, seconds"),
            req("intermediaries", Count, "intermediaries per payment"),
        ],
    },
    Model {
        name: "build-time",
        about: "time for the chain to carry the channel openings",
        flags: &[
            req("onchain-tx", Count, "on-chain transactions needed"),
            req("tps", Rate, "chain throughput, transactions per second"),
        ],
    },
    Model {
        name: "payment-methods",
        about: "Table 3's fees applied to a volume",
        flags: &[
            req("transactions", Count, "number of transactions"),
            req("value", Number, "their total value, dollars"),
        ],
    },
];

/// A rejected command line: the message for stderr (exit status 2).
struct Usage(String);

fn usage() -> String {
    let mut s = String::from(
        "usage: l2pay plan <model> [--flag value | --flag=value]...\n\n\
         Prints one JSON object. Numbers accept plain and scientific notation (38.4e9).\n\nmodels:\n",
    );
    for m in MODELS {
        s.push_str(&format!("  {:<16} {}\n", m.name, m.about));
    }
    s.push_str("\n`l2pay plan <model> --help` lists a model's flags.\n");
    s
}

fn model_usage(m: &Model) -> String {
    let mut s = format!(
        "usage: l2pay plan {} [flags]\n{}\n\nflags:\n",
        m.name, m.about
    );
    for f in m.flags {
        let kind = match f.kind {
            Count => "whole number >= 0",
            PositiveCount => "whole number >= 1",
            Number => "number >= 0",
            Rate => "number > 0",
        };
        let default = match f.default {
            Some(d) => format!(" (default {d})"),
            None => " (required)".to_string(),
        };
        s.push_str(&format!("  --{:<18} {}; {kind}{default}\n", f.name, f.help));
    }
    s
}

/// Parses a decimal number in plain or scientific notation. Rejects `inf`, `nan`, hex, empty
/// strings and anything else `f64::from_str` would accept beyond digits, sign, point, exponent.
fn parse_number(flag: &str, raw: &str) -> Result<f64, Usage> {
    let plain = raw
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    let value = if plain && raw.bytes().any(|b| b.is_ascii_digit()) {
        raw.parse::<f64>().ok()
    } else {
        None
    };
    match value {
        Some(v) if v.is_finite() => Ok(v),
        Some(_) => Err(Usage(format!("--{flag}: {raw:?} is out of range"))),
        None => Err(Usage(format!("--{flag}: {raw:?} is not a number"))),
    }
}

/// A parsed flag value: exact for counts, a float otherwise.
#[derive(Clone, Copy)]
enum Value {
    Count(u64),
    Number(f64),
}

fn parse_value(flag: &Flag, raw: &str) -> Result<Value, Usage> {
    let name = flag.name;
    let v = parse_number(name, raw)?;
    if v < 0.0 {
        return Err(Usage(format!("--{name} must not be negative (got {raw})")));
    }
    match flag.kind {
        Count | PositiveCount => {
            // Plain digits parse exactly; anything else went through f64.
            let n = match raw.parse::<u64>() {
                Ok(n) => n,
                Err(_) if v.fract() != 0.0 => {
                    return Err(Usage(format!(
                        "--{name} must be a whole number (got {raw})"
                    )))
                }
                Err(_) if v > MAX_SAFE_INTEGER as f64 => u64::MAX,
                Err(_) => v as u64,
            };
            if n > MAX_SAFE_INTEGER {
                return Err(Usage(format!(
                    "--{name} must be at most 9007199254740991 (got {raw})"
                )));
            }
            if flag.kind == PositiveCount && n == 0 {
                return Err(Usage(format!("--{name} must be greater than zero")));
            }
            Ok(Value::Count(n))
        }
        Number => Ok(Value::Number(v)),
        Rate => {
            if v == 0.0 {
                return Err(Usage(format!("--{name} must be greater than zero")));
            }
            Ok(Value::Number(v))
        }
    }
}

/// The flags of one model, validated, by name.
struct Args(BTreeMap<&'static str, Value>);

impl Args {
    fn count(&self, name: &str) -> u64 {
        match self.0.get(name) {
            Some(Value::Count(n)) => *n,
            Some(Value::Number(v)) => *v as u64,
            None => unreachable!("flag --{name} is declared and checked"),
        }
    }

    fn num(&self, name: &str) -> f64 {
        match self.0.get(name) {
            Some(Value::Number(v)) => *v,
            Some(Value::Count(n)) => *n as f64,
            None => unreachable!("flag --{name} is declared and checked"),
        }
    }
}

fn parse_flags(model: &Model, argv: &[String]) -> Result<Args, Usage> {
    let mut raw: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let Some(body) = arg.strip_prefix("--") else {
            return Err(Usage(format!(
                "unexpected argument {arg:?} (flags look like --name value)"
            )));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(flag) = model.flags.iter().find(|f| f.name == name) else {
            let known: Vec<String> = model
                .flags
                .iter()
                .map(|f| format!("--{}", f.name))
                .collect();
            return Err(Usage(format!(
                "unknown flag --{name} for `{}` (expected {})",
                model.name,
                known.join(", ")
            )));
        };
        let value = match inline {
            Some(v) => v,
            None => match it.next() {
                Some(v) if !v.starts_with("--") => v.clone(),
                _ => return Err(Usage(format!("--{name} needs a value"))),
            },
        };
        if raw.insert(flag.name, value).is_some() {
            return Err(Usage(format!("--{name} given more than once")));
        }
    }
    let mut values = BTreeMap::new();
    for flag in model.flags {
        let value = match (raw.get(flag.name), flag.default) {
            (Some(r), _) => parse_value(flag, r)?,
            (None, Some(d)) => Value::Number(d),
            (None, None) => {
                return Err(Usage(format!(
                    "missing required flag --{} for `{}`",
                    flag.name, model.name
                )))
            }
        };
        values.insert(flag.name, value);
    }
    Ok(Args(values))
}

fn to_json<T: serde::Serialize>(r: Result<T, PlanError>) -> Result<String, Usage> {
    let r = r.map_err(|e| Usage(e.to_string()))?;
    serde_json::to_string(&r).map_err(|e| Usage(format!("cannot encode the result: {e}")))
}

fn run_model(model: &Model, a: &Args) -> Result<String, Usage> {
    match model.name {
        "nodes" => to_json(plan::nodes(&plan::NodesInput {
            users: a.count("users"),
            channels_per_node: a.count("channels-per-node"),
        })),
        "single-merchant" => to_json(plan::single_merchant(&plan::SingleMerchantInput {
            customers: a.count("customers"),
            merchant_nodes: a.count("merchant-nodes"),
            offchain_tx: a.count("offchain-tx"),
            onchain_fee: a.num("onchain-fee"),
            sidechain_fee: a.num("sidechain-fee"),
        })),
        "single-platform" => to_json(plan::single_platform(&plan::SinglePlatformInput {
            customers: a.count("customers"),
            merchants: a.count("merchants"),
            platform_nodes: a.count("platform-nodes"),
            links_per_node: a.count("links-per-node"),
            offchain_tx: a.count("offchain-tx"),
            hops: a.count("hops"),
            onchain_fee: a.num("onchain-fee"),
            hop_fee: a.num("hop-fee"),
            sidechain_fee: a.num("sidechain-fee"),
        })),
        "funds-capacity" => to_json(plan::funds_capacity(&plan::FundsCapacityInput {
            volume: a.num("volume"),
            period_s: a.num("period-s"),
            hop_time_s: a.num("hop-time-s"),
            intermediaries: a.count("intermediaries"),
        })),
        "build-time" => to_json(plan::build_time(&plan::BuildTimeInput {
            onchain_tx: a.count("onchain-tx"),
            tps: a.num("tps"),
        })),
        "payment-methods" => to_json(plan::payment_methods(&plan::PaymentMethodsInput {
            transactions: a.count("transactions"),
            value: a.num("value"),
        })),
        other => unreachable!("model {other} is listed in MODELS"),
    }
}

/// Ok(stdout text) or Err(stderr text, exit status).
fn run(argv: &[String]) -> Result<String, (String, u8)> {
    let fail = |msg: String| Err((msg, 2));
    match argv.first().map(String::as_str) {
        Some("plan") => {}
        Some("-h" | "--help" | "help") => return Ok(usage()),
        Some(other) => return fail(format!("unknown command {other:?}\n\n{}", usage())),
        None => return fail(format!("missing command\n\n{}", usage())),
    }
    let model_name = match argv.get(1).map(String::as_str) {
        Some("-h" | "--help" | "help") => return Ok(usage()),
        Some(name) => name,
        None => return fail(format!("missing model\n\n{}", usage())),
    };
    let Some(model) = MODELS.iter().find(|m| m.name == model_name) else {
        return fail(format!("unknown model {model_name:?}\n\n{}", usage()));
    };
    let rest = &argv[2..];
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(model_usage(model));
    }
    let args = parse_flags(model, rest).map_err(|Usage(m)| {
        (
            format!("l2pay plan {}: {m}\n\n{}", model.name, model_usage(model)),
            2,
        )
    })?;
    run_model(model, &args)
        .map(|json| json + "\n")
        .map_err(|Usage(m)| (format!("l2pay plan {}: {m}", model.name), 2))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match run(&argv) {
        Ok(out) => {
            // A closed stdout (`| head`) is not worth a panic.
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err((msg, code)) => {
            let _ = writeln!(std::io::stderr(), "error: {}", msg.trim_end());
            ExitCode::from(code)
        }
    }
}
