//! ABI encoding of the adjudicator calls a wallet makes, and decoding of the events it reads
//! back from receipts. Pure functions: the driver sends the calldata through whatever
//! transport it has (an EIP-1193 provider in the browser).

use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_sol_types::{sol, SolCall, SolEvent};
use serde::Serialize;

use crate::eip712;
use crate::error::Error;
use crate::signer::Signature;
use crate::state::{ChannelParams, ChannelState};

sol! {
    function openFor(address a, address b, address token, uint256 amount, uint64 challengePeriod, bytes32 salt) external payable returns (bytes32 channelId);
    function depositFor(bytes32 channelId, address participant, uint256 amount) external payable;
    function approve(address spender, uint256 amount) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
    function closeWithoutState(bytes32 channelId) external;

    event Opened(bytes32 indexed channelId, address indexed a, address indexed b, address token, uint256 amount, uint64 challengePeriod, bytes32 salt);
    event Deposited(bytes32 indexed channelId, address indexed by, uint256 amount, uint256 totalDeposit);
    event Withdrawn(bytes32 indexed channelId, uint256 nonce, uint256 amountA, uint256 amountB, uint256 withdrawnA, uint256 withdrawnB);
    event Closed(bytes32 indexed channelId, uint256 nonce, uint256 payoutA, uint256 payoutB);
    event CloseRegistered(bytes32 indexed channelId, address indexed by, uint256 nonce, uint64 deadline);
    event Challenged(bytes32 indexed channelId, address indexed by, uint256 nonce);
    event Settled(bytes32 indexed channelId, uint256 nonce, uint256 payoutA, uint256 payoutB, uint256 lockCount);
}

/// `openFor(params…)`: the caller funds participant A's side with `amount`.
pub fn open_for(params: &ChannelParams, amount: u128) -> Vec<u8> {
    openForCall {
        a: params.participants[0],
        b: params.participants[1],
        token: params.token,
        amount: U256::from(amount),
        challengePeriod: params.challenge_period,
        salt: params.salt,
    }
    .abi_encode()
}

/// `depositFor(channelId, participant, amount)`: the caller tops up `participant`'s side.
pub fn deposit_for(channel_id: B256, participant: Address, amount: u128) -> Vec<u8> {
    depositForCall {
        channelId: channel_id,
        participant,
        amount: U256::from(amount),
    }
    .abi_encode()
}

/// `closeWithoutState(channelId)`: starts the challenge period on the nonce-0 state (each side
/// gets its deposit back), for a funded channel the hub never agreed a state on.
pub fn close_without_state(channel_id: B256) -> Vec<u8> {
    closeWithoutStateCall {
        channelId: channel_id,
    }
    .abi_encode()
}

/// ERC-20 `approve(spender, amount)`.
pub fn approve(spender: Address, amount: u128) -> Vec<u8> {
    approveCall {
        spender,
        amount: U256::from(amount),
    }
    .abi_encode()
}

/// ERC-20 `balanceOf(who)`.
pub fn balance_of(who: Address) -> Vec<u8> {
    balanceOfCall { who }.abi_encode()
}

/// What a call that submits a co-signed state does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateCall {
    Withdraw,
    CloseCooperative,
    CloseUnilateral,
    Challenge,
}

/// One of the calls that carry a state signed by both participants (`[A, B]`);
/// `closeUnilateral` and `challenge` also carry the state's HTLCs as its lock list.
pub fn state_call(
    call: StateCall,
    params: &ChannelParams,
    state: &ChannelState,
    sigs: &[Signature; 2],
) -> Vec<u8> {
    let s = state.to_sol(params.channel_id());
    let sig_a = Bytes::copy_from_slice(sigs[0].as_bytes());
    let sig_b = Bytes::copy_from_slice(sigs[1].as_bytes());
    match call {
        StateCall::Withdraw => eip712::withdrawCall {
            s,
            sigA: sig_a,
            sigB: sig_b,
        }
        .abi_encode(),
        StateCall::CloseCooperative => eip712::closeCooperativeCall {
            s,
            sigA: sig_a,
            sigB: sig_b,
        }
        .abi_encode(),
        StateCall::CloseUnilateral => eip712::closeUnilateralCall {
            s,
            sigA: sig_a,
            sigB: sig_b,
            locks: state.locks(),
        }
        .abi_encode(),
        StateCall::Challenge => eip712::challengeCall {
            s,
            sigA: sig_a,
            sigB: sig_b,
            locks: state.locks(),
        }
        .abi_encode(),
    }
}

/// `settle(channelId, locks)` with the locks of the registered state.
pub fn settle(params: &ChannelParams, state: &ChannelState) -> Vec<u8> {
    eip712::settleCall {
        channelId: params.channel_id(),
        locks: state.locks(),
    }
    .abi_encode()
}

/// An adjudicator event a wallet acts on, decoded from a receipt's log. Serialises (for
/// JavaScript) as `{ type: "deposit", channelId, … }` with amounts as decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ChainEvent {
    /// A side's cumulative deposit (`Opened` reports A's first deposit).
    Deposit {
        channel_id: B256,
        participant: Address,
        #[serde(with = "crate::serde_util::amount")]
        total: u128,
    },
    Withdrawn {
        channel_id: B256,
        nonce: u64,
        #[serde(with = "crate::serde_util::amount_pair")]
        withdrawn: [u128; 2],
    },
    Closed {
        channel_id: B256,
        #[serde(with = "crate::serde_util::amount_pair")]
        payouts: [u128; 2],
    },
    CloseRegistered {
        channel_id: B256,
        nonce: u64,
        deadline: u64,
    },
    Challenged {
        channel_id: B256,
        nonce: u64,
    },
    Settled {
        channel_id: B256,
        #[serde(with = "crate::serde_util::amount_pair")]
        payouts: [u128; 2],
    },
}

/// Decodes one log; `Ok(None)` for a log that is not one of the events above.
pub fn decode_log(topics: &[B256], data: &[u8]) -> Result<Option<ChainEvent>, Error> {
    let Some(sig) = topics.first() else {
        return Ok(None);
    };
    let bad = |e: alloy_sol_types::Error| Error::Decode(format!("log: {e}"));
    let ev = match *sig {
        Opened::SIGNATURE_HASH => {
            let e = Opened::decode_raw_log(topics.iter().copied(), data).map_err(bad)?;
            ChainEvent::Deposit {
                channel_id: e.channelId,
                participant: e.a,
                total: amount(e.amount)?,
            }
        }
        Deposited::SIGNATURE_HASH => {
            let e = Deposited::decode_raw_log(topics.iter().copied(), data).map_err(bad)?;
            ChainEvent::Deposit {
                channel_id: e.channelId,
                participant: e.by,
                total: amount(e.totalDeposit)?,
            }
        }
        Withdrawn::SIGNATURE_HASH => {
            let e = Withdrawn::decode_raw_log(topics.iter().copied(), data).map_err(bad)?;
            ChainEvent::Withdrawn {
                channel_id: e.channelId,
                nonce: small(e.nonce)?,
                withdrawn: [amount(e.withdrawnA)?, amount(e.withdrawnB)?],
            }
        }
        Closed::SIGNATURE_HASH => {
            let e = Closed::decode_raw_log(topics.iter().copied(), data).map_err(bad)?;
            ChainEvent::Closed {
                channel_id: e.channelId,
                payouts: [amount(e.payoutA)?, amount(e.payoutB)?],
            }
        }
        CloseRegistered::SIGNATURE_HASH => {
            let e = CloseRegistered::decode_raw_log(topics.iter().copied(), data).map_err(bad)?;
            ChainEvent::CloseRegistered {
                channel_id: e.channelId,
                nonce: small(e.nonce)?,
                deadline: e.deadline,
            }
        }
        Challenged::SIGNATURE_HASH => {
            let e = Challenged::decode_raw_log(topics.iter().copied(), data).map_err(bad)?;
            ChainEvent::Challenged {
                channel_id: e.channelId,
                nonce: small(e.nonce)?,
            }
        }
        Settled::SIGNATURE_HASH => {
            let e = Settled::decode_raw_log(topics.iter().copied(), data).map_err(bad)?;
            ChainEvent::Settled {
                channel_id: e.channelId,
                payouts: [amount(e.payoutA)?, amount(e.payoutB)?],
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(ev))
}

/// The topic (event signature hash) of an adjudicator event by its Solidity name, for
/// `eth_getLogs` filters.
pub fn event_topic(name: &str) -> Option<B256> {
    Some(match name {
        "Opened" => Opened::SIGNATURE_HASH,
        "Deposited" => Deposited::SIGNATURE_HASH,
        "Withdrawn" => Withdrawn::SIGNATURE_HASH,
        "Closed" => Closed::SIGNATURE_HASH,
        "CloseRegistered" => CloseRegistered::SIGNATURE_HASH,
        "Challenged" => Challenged::SIGNATURE_HASH,
        "Settled" => Settled::SIGNATURE_HASH,
        _ => return None,
    })
}

/// Decodes the `uint256` an `eth_call` of `balanceOf` returned.
pub fn decode_uint(data: &[u8]) -> Result<U256, Error> {
    balanceOfCall::abi_decode_returns(data).map_err(|e| Error::Decode(format!("uint256: {e}")))
}

fn amount(v: U256) -> Result<u128, Error> {
    u128::try_from(v).map_err(|_| Error::Decode("amount above 2^128".into()))
}

fn small(v: U256) -> Result<u64, Error> {
    u64::try_from(v).map_err(|_| Error::Decode("nonce above 2^64".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256, keccak256};

    #[test]
    fn selectors_match_the_solidity_signatures() {
        let sel = |s: &str| keccak256(s.as_bytes())[..4].to_vec();
        let p = ChannelParams {
            chain_id: 1,
            adjudicator: Address::ZERO,
            participants: [
                address!("1111111111111111111111111111111111111111"),
                Address::ZERO,
            ],
            token: Address::ZERO,
            challenge_period: 60,
            salt: B256::ZERO,
        };
        assert_eq!(
            open_for(&p, 5)[..4],
            sel("openFor(address,address,address,uint256,uint64,bytes32)")
        );
        assert_eq!(
            deposit_for(B256::ZERO, Address::ZERO, 1)[..4],
            sel("depositFor(bytes32,address,uint256)")
        );
        assert_eq!(
            approve(Address::ZERO, 1)[..4],
            sel("approve(address,uint256)")
        );
        let state = ChannelState::initial();
        let signer = crate::LocalSigner::from_bytes(&[7; 32]).expect("valid key");
        let sig = crate::Signer::sign_digest(&signer, &B256::ZERO);
        let st = "(bytes32,uint256,uint256,uint256,uint256,uint256,uint256,uint256,bytes32,bool)";
        assert_eq!(
            state_call(StateCall::Withdraw, &p, &state, &[sig, sig])[..4],
            sel(&format!("withdraw({st},bytes,bytes)"))
        );
        let lk = "(uint64,bool,uint256,bytes32,uint64)[]";
        assert_eq!(
            state_call(StateCall::CloseUnilateral, &p, &state, &[sig, sig])[..4],
            sel(&format!("closeUnilateral({st},bytes,bytes,{lk})"))
        );
        assert_eq!(
            state_call(StateCall::Challenge, &p, &state, &[sig, sig])[..4],
            sel(&format!("challenge({st},bytes,bytes,{lk})"))
        );
        assert_eq!(
            settle(&p, &state)[..4],
            sel("settle(bytes32,(uint64,bool,uint256,bytes32,uint64)[])")
        );
    }

    #[test]
    fn decodes_a_deposit_log_and_ignores_others() {
        let id = b256!("00000000000000000000000000000000000000000000000000000000000000aa");
        let by = address!("2222222222222222222222222222222222222222");
        let e = Deposited {
            channelId: id,
            by,
            amount: U256::from(5),
            totalDeposit: U256::from(12),
        };
        let log = e.encode_log_data();
        let got = decode_log(log.topics(), &log.data).unwrap();
        assert_eq!(
            got,
            Some(ChainEvent::Deposit {
                channel_id: id,
                participant: by,
                total: 12
            })
        );
        assert_eq!(decode_log(&[B256::ZERO], &[]).unwrap(), None);
        assert!(decode_log(&[Deposited::SIGNATURE_HASH], &[1, 2]).is_err());
    }
}
