//! Conversions from the core's types (`l2pay`) to the contract's ABI types.

use alloy::primitives::{Bytes, B256, U256};
use l2pay::{eip712, ChannelParams, ChannelState, Signature};

use crate::bindings::Adjudicator;

/// The contract's `State` for an EIP-712 `State` of the core (same fields, same order).
pub fn sol_state(s: &eip712::State) -> Adjudicator::State {
    Adjudicator::State {
        channelId: s.channelId,
        nonce: s.nonce,
        balanceA: s.balanceA,
        balanceB: s.balanceB,
        depositA: s.depositA,
        depositB: s.depositB,
        withdrawnA: s.withdrawnA,
        withdrawnB: s.withdrawnB,
        locksRoot: s.locksRoot,
        isFinal: s.isFinal,
    }
}

/// The contract's `State` for a channel state of the core.
pub fn state_of(params: &ChannelParams, state: &ChannelState) -> Adjudicator::State {
    sol_state(&state.to_sol(params.channel_id()))
}

pub fn sol_lock(l: &eip712::Lock) -> Adjudicator::Lock {
    Adjudicator::Lock {
        id: l.id,
        fromA: l.fromA,
        amount: l.amount,
        paymentHash: l.paymentHash,
        expiry: l.expiry,
    }
}

/// The locks of `state` in the order its locks root commits to.
pub fn locks_of(state: &ChannelState) -> Vec<Adjudicator::Lock> {
    state.locks().iter().map(sol_lock).collect()
}

pub fn sig_bytes(sig: &Signature) -> Bytes {
    Bytes::copy_from_slice(sig.as_bytes())
}

pub fn amount(a: l2pay::Amount) -> U256 {
    U256::from(a)
}

/// The channel id `open` assigns (same as [`ChannelParams::channel_id`]).
pub fn channel_id(params: &ChannelParams) -> B256 {
    params.channel_id()
}
