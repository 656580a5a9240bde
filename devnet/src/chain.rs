//! The devnet's chain: anvil on a fixed loopback port (instant mining), the adjudicator and
//! the tUSD test token deployed, demo accounts funded.
//!
//! A demo needs a port the pages and a wallet can be pointed at: `Devnet::spawn_on` a fixed
//! port, with a pid file for runs that were killed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use anyhow::Context;
use l2pay::Amount;
use l2pay_chain::bindings::{TestToken, IERC20};
use l2pay_chain::{deploy_adjudicator, deploy_test_token, send, Devnet};

/// One tUSD in its smallest unit (6 decimals).
pub const TUSD: Amount = 1_000_000;
pub const TOKEN_SYMBOL: &str = "tUSD";
pub const TOKEN_DECIMALS: u8 = 6;
/// Anvil accounts the demo shopper pages may fund channels from.
pub const FUNDING_ACCOUNTS: std::ops::RangeInclusive<usize> = 1..=5;
/// tUSD minted to each funding account.
pub const FUNDING_AMOUNT: Amount = 10_000 * TUSD;
/// The demo merchant's key.
pub const MERCHANT_ACCOUNT: usize = 8;
/// The hub's key.
pub const HUB_ACCOUNT: usize = 9;
/// tUSD the hub deposits in the merchant's channel (its liquidity toward the merchant).
pub const HUB_LIQUIDITY: Amount = 50_000 * TUSD;

/// The devnet's anvil ([`Devnet`] on a fixed port), stopped (SIGTERM) on drop.
pub struct LocalChain {
    devnet: Devnet,
    pid_file: PathBuf,
}

impl LocalChain {
    /// Starts anvil on `127.0.0.1:port` and records its pid in `pid_file` (so that a devnet
    /// killed with SIGKILL does not leave the port taken for the next run: see
    /// [`stop_stale_anvil`]).
    pub async fn spawn(port: u16, pid_file: &Path) -> anyhow::Result<LocalChain> {
        let devnet = Devnet::spawn_on(port, &[])
            .await
            .context("starting anvil")?;
        std::fs::write(pid_file, devnet.pid().to_string())?;
        Ok(LocalChain {
            devnet,
            pid_file: pid_file.to_path_buf(),
        })
    }
}

impl std::ops::Deref for LocalChain {
    type Target = Devnet;

    fn deref(&self) -> &Devnet {
        &self.devnet
    }
}

impl Drop for LocalChain {
    fn drop(&mut self) {
        // Devnet's own drop (after this) sends SIGTERM and waits for the process.
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// If `pid_file` names a live anvil (a previous devnet that was killed before it could stop
/// its chain), stops that process: SIGTERM, then SIGKILL after 3 s.
pub fn stop_stale_anvil(pid_file: &Path) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    let is_anvil = || {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                c.split(|b| *b == 0)
                    .next()
                    .is_some_and(|argv0| argv0.ends_with(b"anvil"))
            })
            .unwrap_or(false)
    };
    if pid <= 1 || !is_anvil() {
        return;
    }
    println!("stopping anvil {pid} left over from an earlier run");
    // SAFETY: kill(2) with a pid we recorded for a process we verified is anvil.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    for _ in 0..30 {
        if !is_anvil() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// What the devnet deployed.
#[derive(Clone, Copy, Debug)]
pub struct Deployment {
    pub adjudicator: Address,
    pub token: Address,
}

/// Deploys the adjudicator and tUSD from account 0, mints [`FUNDING_AMOUNT`] to each funding
/// account and [`HUB_LIQUIDITY`] to the hub.
pub async fn deploy(chain: &LocalChain) -> anyhow::Result<Deployment> {
    let deployer = chain.wallet(0);
    let adjudicator = deploy_adjudicator(&deployer)
        .await
        .context("deploying the adjudicator")?;
    let token = deploy_test_token(&deployer)
        .await
        .context("deploying tUSD")?;
    for i in FUNDING_ACCOUNTS {
        mint(&deployer, token, chain.address(i), FUNDING_AMOUNT).await?;
    }
    mint(&deployer, token, chain.address(HUB_ACCOUNT), HUB_LIQUIDITY).await?;
    Ok(Deployment { adjudicator, token })
}

/// Mints `amount` of the test token to `to` (anyone may mint).
pub async fn mint(
    from: &DynProvider,
    token: Address,
    to: Address,
    amount: Amount,
) -> anyhow::Result<()> {
    let t = TestToken::new(token, from.clone());
    send(t.mint(to, U256::from(amount)))
        .await
        .with_context(|| format!("minting tUSD to {to}"))?;
    Ok(())
}

/// `who`'s balance of `token`.
pub async fn token_balance(
    provider: &DynProvider,
    token: Address,
    who: Address,
) -> anyhow::Result<U256> {
    Ok(IERC20::new(token, provider.clone())
        .balanceOf(who)
        .call()
        .await?)
}

/// The chain id the node reports.
pub async fn chain_id(provider: &DynProvider) -> anyhow::Result<u64> {
    Ok(provider.get_chain_id().await?)
}
