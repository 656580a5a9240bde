//! The paper's planner (`crate::plan`) for JavaScript: each model takes a plain object with
//! camelCase keys and returns a plain object whose keys are exactly the JSON `l2pay plan`
//! prints (snake_case). Rejected input throws an `Error` with a `code`: `MALFORMED` (wrong
//! shape, a fraction or negative where a count belongs), or the model's own `INVALID_NUMBER`,
//! `NOT_POSITIVE`, `TOO_LARGE` or `INCONSISTENT_INPUT`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::error::WasmError;
use crate::plan::{self, checks, figures, PlanError};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
export interface NodesInput { users: number; channelsPerNode: number; }
export interface SingleMerchantInput {
  customers: number; merchantNodes: number; offchainTx: number;
  onchainFee: number; sidechainFee?: number;
}
export interface SinglePlatformInput {
  customers: number; merchants: number; platformNodes: number; linksPerNode: number;
  offchainTx: number; hops: number; onchainFee: number; hopFee: number; sidechainFee?: number;
}
export interface FundsCapacityInput {
  volume: number; periodS: number; hopTimeS: number; intermediaries: number;
}
export interface BuildTimeInput { onchainTx: number; tps: number; }
export interface PaymentMethodsInput { transactions: number; value: number; }
/** A plot: `series[i].points` are `[x, y]` pairs. */
export interface PlanFigure {
  title: string; x_label: string; y_label: string;
  series: { label: string; points: [number, number][] }[];
}
"#;

fn decode<T: DeserializeOwned>(what: &str, input: JsValue) -> Result<T, WasmError> {
    serde_wasm_bindgen::from_value(input).map_err(|e| WasmError::malformed(what, e))
}

fn encode<T: Serialize>(value: &T) -> Result<JsValue, WasmError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| WasmError::malformed("result", e))
}

fn model_error(e: PlanError) -> WasmError {
    WasmError::new(e.code(), e.to_string())
}

/// Decodes `input`, runs `model`, encodes the result: the shape of every export below.
fn run<I, O>(
    what: &str,
    input: JsValue,
    model: impl FnOnce(&I) -> Result<O, PlanError>,
) -> Result<JsValue, JsValue>
where
    I: DeserializeOwned,
    O: Serialize,
{
    let input: I = decode(what, input)?;
    let out = model(&input).map_err(model_error)?;
    Ok(encode(&out)?)
}

/// `{users, channelsPerNode}` → `{nodes}`: hub nodes needed (Table 4).
#[wasm_bindgen(js_name = planNodes)]
pub fn plan_nodes(input: JsValue) -> Result<JsValue, JsValue> {
    run("nodes input", input, plan::nodes)
}

/// Single-merchant topology fees (§4.1.1, Figure 13).
#[wasm_bindgen(js_name = planSingleMerchant)]
pub fn plan_single_merchant(input: JsValue) -> Result<JsValue, JsValue> {
    run("single-merchant input", input, plan::single_merchant)
}

/// Single-platform topology fees (§4.1.2, Figures 14–16).
#[wasm_bindgen(js_name = planSinglePlatform)]
pub fn plan_single_platform(input: JsValue) -> Result<JsValue, JsValue> {
    run("single-platform input", input, plan::single_platform)
}

/// Funds intermediaries must lock (§4.2).
#[wasm_bindgen(js_name = planFundsCapacity)]
pub fn plan_funds_capacity(input: JsValue) -> Result<JsValue, JsValue> {
    run("funds-capacity input", input, plan::funds_capacity)
}

/// Time for the chain to carry the channel openings (§4.3).
#[wasm_bindgen(js_name = planBuildTime)]
pub fn plan_build_time(input: JsValue) -> Result<JsValue, JsValue> {
    run("build-time input", input, plan::build_time)
}

/// Table 3's fees applied to a volume (Figure 12).
#[wasm_bindgen(js_name = planPaymentMethods)]
pub fn plan_payment_methods(input: JsValue) -> Result<JsValue, JsValue> {
    run("payment-methods input", input, plan::payment_methods)
}

/// Figure 12 as lines: `{maxTransactions, valuePerTx, steps}` → a `PlanFigure`.
#[wasm_bindgen(js_name = planFeeByMethod)]
pub fn plan_fee_by_method(input: JsValue) -> Result<JsValue, JsValue> {
    run("method sweep", input, figures::fee_by_method)
}

/// Figure 13: `{base: SingleMerchantInput, maxTransactions, steps, sidechainFees}`.
#[wasm_bindgen(js_name = planSingleMerchantFees)]
pub fn plan_single_merchant_fees(input: JsValue) -> Result<JsValue, JsValue> {
    run(
        "single-merchant sweep",
        input,
        figures::single_merchant_fees,
    )
}

/// Figure 14: `{base: SinglePlatformInput, maxTransactions, steps, values: sidechain fees}`.
#[wasm_bindgen(js_name = planSinglePlatformFees)]
pub fn plan_single_platform_fees(input: JsValue) -> Result<JsValue, JsValue> {
    run(
        "single-platform sweep",
        input,
        figures::single_platform_fees,
    )
}

/// Figure 15: as Figure 14, `values` being links per platform node.
#[wasm_bindgen(js_name = planFeesByLinks)]
pub fn plan_fees_by_links(input: JsValue) -> Result<JsValue, JsValue> {
    run("links sweep", input, figures::fees_by_links)
}

/// Figure 16: as Figure 14, `values` being intermediaries per payment.
#[wasm_bindgen(js_name = planFeesByHops)]
pub fn plan_fees_by_hops(input: JsValue) -> Result<JsValue, JsValue> {
    run("hops sweep", input, figures::fees_by_hops)
}

/// Funds capacity against hop time: `{volume, periodS, maxHopTimeS, steps, intermediaries}`.
#[wasm_bindgen(js_name = planFundsByHopTime)]
pub fn plan_funds_by_hop_time(input: JsValue) -> Result<JsValue, JsValue> {
    run("funds sweep", input, figures::funds_by_hop_time)
}

/// The paper's scenarios as model inputs (camelCase, ready to pass back in).
#[wasm_bindgen(js_name = planScenarios)]
pub fn plan_scenarios() -> Result<JsValue, JsValue> {
    Ok(encode(&figures::scenarios())?)
}

/// Every figure section 4 states, next to the models' value: `[{source, claim, paper, model,
/// unit, agrees, note}]`.
#[wasm_bindgen(js_name = planPaperChecks)]
pub fn plan_paper_checks() -> Result<JsValue, JsValue> {
    let checks = checks::paper_checks().map_err(model_error)?;
    Ok(encode(&checks)?)
}
