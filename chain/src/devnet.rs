//! A throwaway local chain: anvil on a free loopback port, its funded accounts, time control.

use std::path::{Path, PathBuf};

use alloy::eips::BlockNumberOrTag;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::anvil::{ReorgOptions, TransactionData};
use alloy::signers::local::PrivateKeySigner;
use l2pay::LocalSigner;

use crate::error::ChainError;

/// Where the anvil binary of the npm package `@foundry-rs/anvil` lands.
const NPM_ANVIL: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// The anvil binary: `$ANVIL`, else `node_modules/...` in this crate's directory or the
/// nearest ancestor that has it, else `anvil` on `PATH`.
pub fn anvil_path() -> PathBuf {
    if let Some(p) = std::env::var_os("ANVIL") {
        return PathBuf::from(p);
    }
    let mut dir: Option<&Path> = Some(Path::new(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        let candidate = d.join(NPM_ANVIL);
        if candidate.is_file() {
            return candidate;
        }
        dir = d.parent();
    }
    PathBuf::from("anvil")
}

/// A running anvil (killed on drop) and a provider for each of its funded accounts.
pub struct Devnet {
    anvil: AnvilInstance,
    keys: Vec<B256>,
    /// Read-only provider (no wallet).
    pub provider: DynProvider,
}

impl Devnet {
    /// Starts anvil on `127.0.0.1` with a port the OS picks.
    pub async fn spawn() -> Result<Devnet, ChainError> {
        Self::spawn_with_args(&[]).await
    }

    /// Starts anvil with extra command-line arguments (e.g. `["--chain-id", "5"]`).
    pub async fn spawn_with_args(args: &[&str]) -> Result<Devnet, ChainError> {
        Self::spawn_on(0, args).await
    }

    /// Starts anvil on `127.0.0.1:port` (0: the OS picks) with extra arguments.
    pub async fn spawn_on(port: u16, args: &[&str]) -> Result<Devnet, ChainError> {
        let anvil = Anvil::new()
            .path(anvil_path())
            .host("127.0.0.1")
            .port(port)
            .args(args.iter().copied())
            .try_spawn()
            .map_err(|e| ChainError::Anvil(format!("{e} (anvil at {:?})", anvil_path())))?;
        let keys = anvil
            .keys()
            .iter()
            .map(|k| B256::from_slice(&k.to_bytes()))
            .collect();
        let provider = ProviderBuilder::new()
            .connect_http(anvil.endpoint_url())
            .erased();
        Ok(Devnet {
            anvil,
            keys,
            provider,
        })
    }

    pub fn endpoint(&self) -> String {
        self.anvil.endpoint()
    }

    /// The anvil process id.
    pub fn pid(&self) -> u32 {
        self.anvil.child().id()
    }

    pub fn chain_id(&self) -> u64 {
        self.anvil.chain_id()
    }

    /// Secret key of funded account `i` (anvil has 10, each with 10,000 ETH).
    pub fn key(&self, i: usize) -> B256 {
        self.keys[i]
    }

    pub fn address(&self, i: usize) -> Address {
        self.anvil.addresses()[i]
    }

    /// The core's signer for account `i` (signs channel states).
    pub fn signer(&self, i: usize) -> LocalSigner {
        LocalSigner::from_bytes(&self.keys[i].0).expect("anvil keys are valid")
    }

    /// A provider that sends transactions from account `i`.
    pub fn wallet(&self, i: usize) -> DynProvider {
        let signer = PrivateKeySigner::from_bytes(&self.keys[i]).expect("anvil keys are valid");
        // Nonces are read from the node for every transaction: alloy's default cached nonce
        // manager skips a nonce when gas estimation fails (a call that would revert), which
        // leaves every later transaction of that account stuck behind the gap.
        ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_simple_nonce_management()
            .with_gas_estimation()
            .fetch_chain_id()
            .wallet(signer)
            .connect_http(self.anvil.endpoint_url())
            .erased()
    }

    /// Native balance of `who` at the latest block.
    pub async fn balance(&self, who: Address) -> Result<U256, ChainError> {
        Ok(self.provider.get_balance(who).await?)
    }

    /// Timestamp of the latest block.
    pub async fn now(&self) -> Result<u64, ChainError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| ChainError::Anvil("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// Moves chain time forward by `secs` and mines a block, so that the next transaction sees
    /// at least the new time.
    pub async fn advance(&self, secs: u64) -> Result<u64, ChainError> {
        self.provider.anvil_increase_time(secs).await?;
        self.provider.evm_mine(None).await?;
        self.now().await
    }

    /// Mines an empty block.
    pub async fn mine(&self) -> Result<(), ChainError> {
        self.provider.evm_mine(None).await?;
        Ok(())
    }

    /// Sets the timestamp of the next block (must be later than the latest one).
    pub async fn set_next_timestamp(&self, t: u64) -> Result<(), ChainError> {
        self.provider.anvil_set_next_block_timestamp(t).await?;
        Ok(())
    }

    pub async fn block_number(&self) -> Result<u64, ChainError> {
        Ok(self.provider.get_block_number().await?)
    }

    // ----- reorgs and the pool, for tests of watchers -----

    /// Replaces the latest `depth` blocks with as many new ones (the chain keeps its height),
    /// holding only `txs`: raw signed transactions, each with the index of the new block it
    /// goes in (`anvil_reorg`). The replaced blocks' transactions are gone, not back in the pool.
    pub async fn reorg(&self, depth: u64, txs: Vec<(Bytes, u64)>) -> Result<(), ChainError> {
        let tx_block_pairs = txs
            .into_iter()
            .map(|(raw, block)| (TransactionData::Raw(raw), block))
            .collect();
        self.provider
            .anvil_reorg(ReorgOptions {
                depth,
                tx_block_pairs,
            })
            .await?;
        Ok(())
    }

    /// A snapshot of the chain to [`Self::revert`] to later (`evm_snapshot`).
    pub async fn snapshot(&self) -> Result<U256, ChainError> {
        Ok(self.provider.anvil_snapshot().await?)
    }

    /// Goes back to a snapshot: the blocks mined since are gone (`evm_revert`).
    pub async fn revert(&self, snapshot: U256) -> Result<(), ChainError> {
        if !self.provider.anvil_revert(snapshot).await? {
            return Err(ChainError::Anvil(format!("no snapshot {snapshot}")));
        }
        Ok(())
    }

    /// Mines a block per transaction (the default) or only on [`Self::mine`].
    pub async fn set_automine(&self, on: bool) -> Result<(), ChainError> {
        self.provider.anvil_set_auto_mine(on).await?;
        Ok(())
    }

    /// Removes a transaction from the pool, as a node that evicts it would.
    pub async fn drop_transaction(&self, hash: B256) -> Result<(), ChainError> {
        self.provider.anvil_drop_transaction(hash).await?;
        Ok(())
    }
}
