//! A typed client of one deployed adjudicator, speaking the core's types.

use std::marker::PhantomData;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use l2pay::{eip712, Amount, ChannelParams, ChannelState, Signature};

use crate::bindings::Adjudicator::{self, AdjudicatorInstance, ChannelView, StoredLock};
use crate::bindings::IERC20;
use crate::convert::{amount, locks_of, sig_bytes, sol_lock, sol_state, state_of};
use crate::error::ChainError;

/// Sends a contract call and waits for its receipt. A call the node can tell will revert fails
/// before sending, with the adjudicator's decoded error ([`ChainError::Revert`]).
pub async fn send<D: CallDecoder>(
    call: CallBuilder<&DynProvider, D>,
) -> Result<TransactionReceipt, ChainError> {
    let pending = call.send().await?;
    let receipt = pending.get_receipt().await?;
    if !receipt.status() {
        return Err(ChainError::Reverted(receipt.transaction_hash));
    }
    Ok(receipt)
}

/// EIP-1559 fees of a transaction, in wei per gas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fees {
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

impl Fees {
    /// Fees that may replace a pending transaction that offered `self`: both raised by at
    /// least 12.5 % (nodes ask for 10 %; geth's pool and anvil refuse less as underpriced).
    pub fn bumped(self) -> Fees {
        let bump = |x: u128| x.saturating_add(x.div_ceil(8)).saturating_add(1);
        Fees {
            max_fee_per_gas: bump(self.max_fee_per_gas),
            max_priority_fee_per_gas: bump(self.max_priority_fee_per_gas),
        }
    }

    /// The larger of each fee.
    pub fn max(self, other: Fees) -> Fees {
        Fees {
            max_fee_per_gas: self.max_fee_per_gas.max(other.max_fee_per_gas),
            max_priority_fee_per_gas: self
                .max_priority_fee_per_gas
                .max(other.max_priority_fee_per_gas),
        }
    }
}

/// Where a transaction sent with [`AdjudicatorClient::submit`] stands, as the node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// In block `block` of the canonical chain; `success: false` if it reverted.
    Mined { block: u64, success: bool },
    /// Known to the node (in its pool) but in no block.
    Pending,
    /// Unknown to the node: never received, dropped from its pool, or in an orphaned block.
    Unknown,
}

/// What a channel looks like on chain.
pub type ChannelInfo = ChannelView;

/// Status of a channel on chain (`ChannelView::status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    None,
    Open,
    Closing,
    Closed,
}

impl Status {
    pub fn of(info: &ChannelInfo) -> Status {
        match info.status {
            1 => Status::Open,
            2 => Status::Closing,
            3 => Status::Closed,
            _ => Status::None,
        }
    }
}

/// One adjudicator, with transactions sent from the provider's wallet.
#[derive(Clone)]
pub struct AdjudicatorClient {
    contract: AdjudicatorInstance<DynProvider>,
}

impl AdjudicatorClient {
    /// `provider` signs the transactions (see [`crate::Devnet::wallet`]).
    pub fn new(address: Address, provider: DynProvider) -> Self {
        AdjudicatorClient {
            contract: Adjudicator::new(address, provider),
        }
    }

    pub fn address(&self) -> Address {
        *self.contract.address()
    }

    /// The raw generated binding, for calls this client does not wrap.
    pub fn contract(&self) -> &AdjudicatorInstance<DynProvider> {
        &self.contract
    }

    pub fn provider(&self) -> &DynProvider {
        self.contract.provider()
    }

    /// The same contract, with transactions sent from another wallet.
    pub fn with_provider(&self, provider: DynProvider) -> Self {
        AdjudicatorClient::new(self.address(), provider)
    }

    // ----- funding -----

    /// Approves the adjudicator to pull `amount` of `token` from the wallet.
    pub async fn approve(
        &self,
        token: Address,
        amount: Amount,
    ) -> Result<TransactionReceipt, ChainError> {
        let erc20 = IERC20::new(token, self.provider().clone());
        send(erc20.approve(self.address(), U256::from(amount))).await
    }

    /// Opens the channel `params` describes; the wallet must be participant A. Native coin is
    /// sent as value; an ERC-20 must be approved first ([`Self::approve`]).
    pub async fn open(
        &self,
        params: &ChannelParams,
        deposit: Amount,
    ) -> Result<TransactionReceipt, ChainError> {
        let call = self
            .contract
            .open(
                params.participants[1],
                params.token,
                amount(deposit),
                params.challenge_period,
                params.salt,
            )
            .value(native_value(params.token, deposit));
        send(call).await
    }

    /// Adds `deposit` to the wallet's side.
    pub async fn deposit(
        &self,
        params: &ChannelParams,
        deposit: Amount,
    ) -> Result<TransactionReceipt, ChainError> {
        let call = self
            .contract
            .deposit(params.channel_id(), amount(deposit))
            .value(native_value(params.token, deposit));
        send(call).await
    }

    /// Opens the channel `params` describes for participant A = `params.participants[0]` (the
    /// key that signs A's states), funded with `deposit` from the wallet, which receives all of
    /// A's payouts. Native coin is sent as value; an ERC-20 must be approved first
    /// ([`Self::approve`]).
    pub async fn open_for(
        &self,
        params: &ChannelParams,
        deposit: Amount,
    ) -> Result<TransactionReceipt, ChainError> {
        let call = self
            .contract
            .openFor(
                params.participants[0],
                params.participants[1],
                params.token,
                amount(deposit),
                params.challenge_period,
                params.salt,
            )
            .value(native_value(params.token, deposit));
        send(call).await
    }

    /// Adds `deposit`, paid by the wallet, to `participant`'s side (one of
    /// `params.participants`); it is paid out to that side's payout address. Native coin is
    /// sent as value; an ERC-20 must be approved first ([`Self::approve`]).
    pub async fn deposit_for(
        &self,
        params: &ChannelParams,
        participant: Address,
        deposit: Amount,
    ) -> Result<TransactionReceipt, ChainError> {
        let call = self
            .contract
            .depositFor(params.channel_id(), participant, amount(deposit))
            .value(native_value(params.token, deposit));
        send(call).await
    }

    // ----- signed states -----

    /// Executes the withdrawals `state` authorises. `sigs` are `[A, B]`.
    pub async fn withdraw(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
        sigs: &[Signature; 2],
    ) -> Result<TransactionReceipt, ChainError> {
        self.withdraw_raw(&state.to_sol(params.channel_id()), sigs)
            .await
    }

    pub async fn close_cooperative(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
        sigs: &[Signature; 2],
    ) -> Result<TransactionReceipt, ChainError> {
        self.close_cooperative_raw(&state.to_sol(params.channel_id()), sigs)
            .await
    }

    /// Registers `state` (with its HTLCs as locks) and starts the challenge period.
    pub async fn close_unilateral(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
        sigs: &[Signature; 2],
    ) -> Result<TransactionReceipt, ChainError> {
        send(self.close_unilateral_call(params, state, sigs)).await
    }

    /// Replaces the registered state with the newer `state` (with its HTLCs as locks).
    pub async fn challenge(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
        sigs: &[Signature; 2],
    ) -> Result<TransactionReceipt, ChainError> {
        send(self.challenge_call(params, state, sigs)).await
    }

    // The `_raw` variants take the EIP-712 struct as signed, for states the core would not
    // build (attack tests, foreign domains).

    pub async fn withdraw_raw(
        &self,
        s: &eip712::State,
        sigs: &[Signature; 2],
    ) -> Result<TransactionReceipt, ChainError> {
        let [a, b] = sigs.map(|s| sig_bytes(&s));
        send(self.contract.withdraw(sol_state(s), a, b)).await
    }

    pub async fn close_cooperative_raw(
        &self,
        s: &eip712::State,
        sigs: &[Signature; 2],
    ) -> Result<TransactionReceipt, ChainError> {
        let [a, b] = sigs.map(|s| sig_bytes(&s));
        send(self.contract.closeCooperative(sol_state(s), a, b)).await
    }

    /// `locks` are given as they are: they need not be those `s.locksRoot` commits to.
    pub async fn close_unilateral_raw(
        &self,
        s: &eip712::State,
        sigs: &[Signature; 2],
        locks: &[eip712::Lock],
    ) -> Result<TransactionReceipt, ChainError> {
        let [a, b] = sigs.map(|s| sig_bytes(&s));
        let locks = locks.iter().map(sol_lock).collect();
        send(self.contract.closeUnilateral(sol_state(s), a, b, locks)).await
    }

    pub async fn challenge_raw(
        &self,
        s: &eip712::State,
        sigs: &[Signature; 2],
        locks: &[eip712::Lock],
    ) -> Result<TransactionReceipt, ChainError> {
        let [a, b] = sigs.map(|s| sig_bytes(&s));
        let locks = locks.iter().map(sol_lock).collect();
        send(self.contract.challenge(sol_state(s), a, b, locks)).await
    }

    /// Starts a unilateral close on the implicit nonce-0 state (all deposits go back).
    pub async fn close_without_state(
        &self,
        channel_id: B256,
    ) -> Result<TransactionReceipt, ChainError> {
        send(self.contract.closeWithoutState(channel_id)).await
    }

    /// Settles the registered `state` after the challenge period, giving its HTLCs as locks.
    pub async fn settle(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
    ) -> Result<TransactionReceipt, ChainError> {
        send(self.contract.settle(params.channel_id(), locks_of(state))).await
    }

    pub async fn settle_raw(
        &self,
        channel_id: B256,
        locks: &[eip712::Lock],
    ) -> Result<TransactionReceipt, ChainError> {
        let locks = locks.iter().map(sol_lock).collect();
        send(self.contract.settle(channel_id, locks)).await
    }

    // ----- HTLCs and undelivered payouts -----

    pub async fn reveal_preimage(&self, preimage: B256) -> Result<TransactionReceipt, ChainError> {
        send(self.contract.revealPreimage(preimage)).await
    }

    /// Pays lock `index` of a settled channel, revealing `preimage` first if given.
    pub async fn claim_htlc(
        &self,
        channel_id: B256,
        index: u64,
        preimage: Option<B256>,
    ) -> Result<TransactionReceipt, ChainError> {
        let call = self.contract.claimHtlc(
            channel_id,
            U256::from(index),
            preimage.unwrap_or(B256::ZERO),
        );
        send(call).await
    }

    /// What `payee` is owed in `token` (zero: native coin): payouts it (or the token) refused.
    pub async fn owed(&self, token: Address, payee: Address) -> Result<U256, ChainError> {
        Ok(self.contract.owed(token, payee).call().await?)
    }

    /// Sends the wallet's undelivered payouts in `token` to `to`.
    pub async fn claim_owed(
        &self,
        token: Address,
        to: Address,
    ) -> Result<TransactionReceipt, ChainError> {
        send(self.contract.claimOwed(token, to)).await
    }

    // ----- transactions the caller follows itself (watchtowers) -----
    //
    // The `_tx` builders give a call as a request; `submit` sends it with a chosen nonce and
    // fees without waiting for it, and `tx_status` follows it, so that a caller can replace a
    // transaction that is not mined (same nonce, bumped fees) or send again one a reorg
    // dropped.

    pub fn close_unilateral_tx(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
        sigs: &[Signature; 2],
    ) -> TransactionRequest {
        self.close_unilateral_call(params, state, sigs)
            .into_transaction_request()
    }

    pub fn close_without_state_tx(&self, channel_id: B256) -> TransactionRequest {
        self.contract
            .closeWithoutState(channel_id)
            .into_transaction_request()
    }

    pub fn challenge_tx(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
        sigs: &[Signature; 2],
    ) -> TransactionRequest {
        self.challenge_call(params, state, sigs)
            .into_transaction_request()
    }

    fn close_unilateral_call(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
        sigs: &[Signature; 2],
    ) -> CallBuilder<&DynProvider, PhantomData<Adjudicator::closeUnilateralCall>> {
        let [a, b] = sigs.map(|s| sig_bytes(&s));
        self.contract
            .closeUnilateral(state_of(params, state), a, b, locks_of(state))
    }

    fn challenge_call(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
        sigs: &[Signature; 2],
    ) -> CallBuilder<&DynProvider, PhantomData<Adjudicator::challengeCall>> {
        let [a, b] = sigs.map(|s| sig_bytes(&s));
        self.contract
            .challenge(state_of(params, state), a, b, locks_of(state))
    }

    pub fn settle_tx(&self, channel_id: B256, locks: &[eip712::Lock]) -> TransactionRequest {
        let locks = locks.iter().map(sol_lock).collect();
        self.contract
            .settle(channel_id, locks)
            .into_transaction_request()
    }

    pub fn reveal_preimage_tx(&self, preimage: B256) -> TransactionRequest {
        self.contract
            .revealPreimage(preimage)
            .into_transaction_request()
    }

    pub fn claim_htlc_tx(
        &self,
        channel_id: B256,
        index: u64,
        preimage: Option<B256>,
    ) -> TransactionRequest {
        self.contract
            .claimHtlc(
                channel_id,
                U256::from(index),
                preimage.unwrap_or(B256::ZERO),
            )
            .into_transaction_request()
    }

    /// The fees the node suggests for a transaction now.
    pub async fn suggested_fees(&self) -> Result<Fees, ChainError> {
        let e = self.provider().estimate_eip1559_fees().await?;
        Ok(Fees {
            max_fee_per_gas: e.max_fee_per_gas,
            max_priority_fee_per_gas: e.max_priority_fee_per_gas,
        })
    }

    /// `who`'s next nonce, counting its transactions waiting in the node's pool.
    pub async fn pending_nonce(&self, who: Address) -> Result<u64, ChainError> {
        Ok(self.provider().get_transaction_count(who).pending().await?)
    }

    /// How many of `who`'s transactions the latest block includes (its next nonce on chain).
    pub async fn mined_nonce(&self, who: Address) -> Result<u64, ChainError> {
        Ok(self.provider().get_transaction_count(who).latest().await?)
    }

    /// Sends `tx` from `from` (the provider's wallet) with `nonce` and `fees`, without waiting
    /// for it to be mined; its hash. The node estimates the gas first, so a call that would
    /// revert fails here, with the adjudicator's decoded error ([`ChainError::Revert`]).
    pub async fn submit(
        &self,
        tx: TransactionRequest,
        from: Address,
        nonce: u64,
        fees: Fees,
    ) -> Result<B256, ChainError> {
        let tx = tx
            .with_from(from)
            .with_nonce(nonce)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        match self.provider().send_transaction(tx).await {
            Ok(pending) => Ok(*pending.tx_hash()),
            Err(e) => Err(alloy::contract::Error::from(e).into()),
        }
    }

    pub async fn tx_status(&self, hash: B256) -> Result<TxStatus, ChainError> {
        if let Some(r) = self.provider().get_transaction_receipt(hash).await? {
            if let Some(block) = r.block_number {
                return Ok(TxStatus::Mined {
                    block,
                    success: r.status(),
                });
            }
        }
        Ok(match self.provider().get_transaction_by_hash(hash).await? {
            Some(_) => TxStatus::Pending,
            None => TxStatus::Unknown,
        })
    }

    // ----- views -----

    pub async fn channel(&self, channel_id: B256) -> Result<ChannelInfo, ChainError> {
        Ok(self.contract.getChannel(channel_id).call().await?)
    }

    pub async fn lock(&self, channel_id: B256, index: u64) -> Result<StoredLock, ChainError> {
        Ok(self
            .contract
            .getLock(channel_id, U256::from(index))
            .call()
            .await?)
    }

    /// When `sha256(preimage) == payment_hash` was first revealed (0: never).
    pub async fn revealed_at(&self, payment_hash: B256) -> Result<u64, ChainError> {
        let t: U256 = self.contract.revealedAt(payment_hash).call().await?;
        Ok(t.saturating_to())
    }

    /// The digest the contract expects signed for `state` (equals `state.digest(params)`).
    pub async fn state_digest(
        &self,
        params: &ChannelParams,
        state: &ChannelState,
    ) -> Result<B256, ChainError> {
        Ok(self
            .contract
            .stateDigest(state_of(params, state))
            .call()
            .await?)
    }

    pub async fn domain_separator(&self) -> Result<B256, ChainError> {
        Ok(self.contract.domainSeparator().call().await?)
    }
}

fn native_value(token: Address, deposit: Amount) -> U256 {
    if token == Address::ZERO {
        U256::from(deposit)
    } else {
        U256::ZERO
    }
}
