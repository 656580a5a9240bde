//! Topology models (§4.1): hub nodes required, and the fee costs of the single-merchant and
//! single-platform topologies paid directly on chain, through state channels, or on a sidechain.

use serde::{Deserialize, Serialize};

use super::{checked, count, non_negative, positive_count, PlanError};

/// Input of [`nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodesInput {
    /// Users (customers, plus merchants on a platform) that each need one channel to a hub node.
    pub users: u64,
    /// Channels one hub node can hold (the paper uses 35,137).
    pub channels_per_node: u64,
}

/// Hub nodes a merchant or platform must run: `ceil(users / channels_per_node)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nodes {
    pub nodes: u64,
}

/// Table 4: how many merchant or platform nodes serve `users` when one node holds at most
/// `channels_per_node` channels.
pub fn nodes(input: &NodesInput) -> Result<Nodes, PlanError> {
    let users = count("users", input.users)?;
    let per_node = positive_count("channels_per_node", input.channels_per_node)?;
    Ok(Nodes {
        nodes: users.div_ceil(per_node),
    })
}

/// Input of [`single_merchant`] (§4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SingleMerchantInput {
    /// `|Customer|`: each opens one channel to a merchant node.
    pub customers: u64,
    /// `|Merchant|`: nodes the merchant runs (they join a sidechain too).
    pub merchant_nodes: u64,
    /// `NOCT`: payments the customers make in total.
    pub offchain_tx: u64,
    /// `MCTF`: fee of one main-chain transaction, in dollars.
    pub onchain_fee: f64,
    /// `SCTF`: fee of one sidechain transaction, in dollars (default 0).
    #[serde(default)]
    pub sidechain_fee: f64,
}

/// Total fees of the three ways to make the payments, in dollars.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SingleMerchantFees {
    /// Every payment is its own on-chain transaction: `T·F`.
    pub onchain_direct: f64,
    /// Open and close every customer channel on chain, pay off chain for free: `2·C·F`.
    pub state_channel: f64,
    /// Everyone locks and unlocks on the main chain, payments pay the sidechain fee:
    /// `2·F·(M+C) + S·T` (formula 2).
    pub sidechain: f64,
}

/// Result of [`single_merchant`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SingleMerchant {
    /// Payment channels: one per customer.
    pub channels: u64,
    /// On-chain transactions to open and close them: `2C`.
    pub onchain_tx: u64,
    /// Off-chain payments (formula 1's `NOCT`).
    pub offchain_tx: u64,
    pub fees: SingleMerchantFees,
}

/// The single-merchant topology (an Apple-like store): customers connect to one of the
/// merchant's nodes.
pub fn single_merchant(input: &SingleMerchantInput) -> Result<SingleMerchant, PlanError> {
    let c = count("customers", input.customers)?;
    let m = count("merchant_nodes", input.merchant_nodes)?;
    let t = count("offchain_tx", input.offchain_tx)?;
    let f = non_negative("onchain_fee", input.onchain_fee)?;
    let s = non_negative("sidechain_fee", input.sidechain_fee)?;
    if c > 0 && m == 0 {
        return Err(PlanError::Inconsistent(
            "customers need at least one merchant node to open channels with".into(),
        ));
    }
    checked("customers + merchant_nodes", c.checked_add(m))?;
    let onchain_tx = checked("onchain_tx", c.checked_mul(2))?;
    let (c, m, t) = (c as f64, m as f64, t as f64);
    Ok(SingleMerchant {
        channels: input.customers,
        onchain_tx,
        offchain_tx: input.offchain_tx,
        fees: SingleMerchantFees {
            onchain_direct: t * f,
            state_channel: 2.0 * c * f,
            sidechain: 2.0 * f * (m + c) + s * t,
        },
    })
}

/// Input of [`single_platform`] (§4.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SinglePlatformInput {
    /// `|Customer|`: each opens one channel to a platform node.
    pub customers: u64,
    /// `|Merchant|`: each opens one channel to a platform node.
    pub merchants: u64,
    /// `|EPlatform|`: the platform's hub nodes.
    pub platform_nodes: u64,
    /// Channels each platform node opens to other platform nodes (Figure 15's 1, 2, 10, 100;
    /// may exceed `platform_nodes - 1`, as two nodes may share several channels).
    pub links_per_node: u64,
    /// `NOCT`: payments the customers make in total.
    pub offchain_tx: u64,
    /// Intermediaries (hops) each payment passes through (Figure 16's 1, 5, 10).
    pub hops: u64,
    /// `MCTF`: fee of one main-chain transaction, in dollars.
    pub onchain_fee: f64,
    /// Fee each intermediary charges per payment, in dollars (Lightning: $0.00008).
    pub hop_fee: f64,
    /// `SCTF`: fee of one sidechain transaction, in dollars (default 0).
    #[serde(default)]
    pub sidechain_fee: f64,
}

/// Total fees of the three ways to make the payments, in dollars.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SinglePlatformFees {
    /// Every payment is its own on-chain transaction: `T·F`.
    pub onchain_direct: f64,
    /// Open and close all channels on chain, then pay every intermediary on every payment:
    /// `2·(C+M+PPC)·F + T·I·H`.
    pub state_channel: f64,
    /// Everyone locks and unlocks on the main chain; each payment is two sidechain
    /// transactions (customer → platform → merchant): `2·F·(P+M+C) + 2·S·T` (formula 3).
    pub sidechain: f64,
}

/// Result of [`single_platform`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SinglePlatform {
    /// `N = C + M + PPC` payment channels.
    pub channels: u64,
    /// `PPC = ceil(P·k/2)`: channels among platform nodes (each links `k` others; a channel
    /// serves both ends).
    pub platform_channels: u64,
    /// `2N` on-chain transactions to open and close every channel.
    pub onchain_tx: u64,
    /// Off-chain payments.
    pub offchain_tx: u64,
    pub fees: SinglePlatformFees,
}

/// The single-platform topology (a Taobao-like marketplace): customers and merchants connect to
/// the platform's nodes, which connect to each other.
pub fn single_platform(input: &SinglePlatformInput) -> Result<SinglePlatform, PlanError> {
    let c = count("customers", input.customers)?;
    let m = count("merchants", input.merchants)?;
    let p = count("platform_nodes", input.platform_nodes)?;
    let k = count("links_per_node", input.links_per_node)?;
    let t = count("offchain_tx", input.offchain_tx)?;
    let i = count("hops", input.hops)?;
    let f = non_negative("onchain_fee", input.onchain_fee)?;
    let h = non_negative("hop_fee", input.hop_fee)?;
    let s = non_negative("sidechain_fee", input.sidechain_fee)?;
    if (c > 0 || m > 0) && p == 0 {
        return Err(PlanError::Inconsistent(
            "customers and merchants need at least one platform node to open channels with".into(),
        ));
    }
    // Two nodes may hold several channels between them (Lightning allows it), so `k` may
    // exceed `P - 1`; but a lone node has nobody to link to.
    if p < 2 && k > 0 {
        return Err(PlanError::Inconsistent(format!(
            "links between platform nodes need at least 2 nodes, not {p}"
        )));
    }
    let ppc = checked("platform_channels", p.checked_mul(k))?.div_ceil(2);
    let channels = checked(
        "channels",
        c.checked_add(m).and_then(|x| x.checked_add(ppc)),
    )?;
    let onchain_tx = checked("onchain_tx", channels.checked_mul(2))?;
    checked(
        "customers + merchants + platform_nodes",
        c.checked_add(m).and_then(|x| x.checked_add(p)),
    )?;
    let (n, cf, mf, pf, tf, hops) = (
        channels as f64,
        c as f64,
        m as f64,
        p as f64,
        t as f64,
        i as f64,
    );
    Ok(SinglePlatform {
        channels,
        platform_channels: ppc,
        onchain_tx,
        offchain_tx: t,
        fees: SinglePlatformFees {
            onchain_direct: tf * f,
            state_channel: 2.0 * n * f + tf * hops * h,
            sidechain: 2.0 * f * (pf + mf + cf) + 2.0 * s * tf,
        },
    })
}
