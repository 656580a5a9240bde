//! Channel parameters and channel state, with the balance invariant.

use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_sol_types::{Eip712Domain, SolValue};
use serde::{Deserialize, Serialize};

use crate::eip712;
use crate::error::UpdateError;
use crate::serde_util::{amount, amount_pair};
use crate::Amount;

/// Highest nonce a state may carry: 2^48 updates outlast any channel (nine years at a million
/// updates a second), and the gap to `u64::MAX` keeps every nonce computation exact.
pub const MAX_NONCE: u64 = 1 << 48;
/// How far a peer's proposal (or its claim of what it signed) may jump above the highest nonce
/// we know. Honest conflict resolution moves two above; anything far beyond is refused, so a
/// peer cannot exhaust the nonce range in a few messages.
pub const MAX_NONCE_STEP: u64 = 1 << 16;
/// Bounds of a channel's challenge period in seconds, as `contracts/Adjudicator.sol` enforces
/// them at open: long enough to answer a stale close, short enough that every exit ends.
pub const MIN_CHALLENGE_PERIOD: u64 = 60;
pub const MAX_CHALLENGE_PERIOD: u64 = 30 * 86_400;

/// Which participant: `A` opened the channel on chain, `B` is the counterparty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    pub fn idx(self) -> usize {
        self as usize
    }
}

/// What both participants fixed when the channel was opened. The channel id commits to all of
/// it, so a signature for one channel is worthless on another channel, contract or chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelParams {
    pub chain_id: u64,
    pub adjudicator: Address,
    /// `[A, B]`.
    pub participants: [Address; 2],
    /// ERC-20 token, or the zero address for the chain's native coin.
    pub token: Address,
    /// Seconds the contract waits for a newer state after a unilateral close.
    pub challenge_period: u64,
    pub salt: B256,
}

impl ChannelParams {
    /// `keccak256(abi.encode(chainId, adjudicator, a, b, token, challengePeriod, salt))`, the id
    /// the contract assigns in `open`.
    pub fn channel_id(&self) -> B256 {
        keccak256(
            (
                U256::from(self.chain_id),
                self.adjudicator,
                self.participants[0],
                self.participants[1],
                self.token,
                U256::from(self.challenge_period),
                self.salt,
            )
                .abi_encode_params(),
        )
    }

    pub fn domain(&self) -> Eip712Domain {
        eip712::domain(self.chain_id, self.adjudicator)
    }

    /// Refuses parameters the adjudicator would refuse (or that make no channel): a challenge
    /// period outside [`MIN_CHALLENGE_PERIOD`]..=[`MAX_CHALLENGE_PERIOD`], a zero or repeated
    /// participant.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_CHALLENGE_PERIOD..=MAX_CHALLENGE_PERIOD).contains(&self.challenge_period) {
            return Err(format!(
                "challenge period must be between {MIN_CHALLENGE_PERIOD} and \
                 {MAX_CHALLENGE_PERIOD} seconds"
            ));
        }
        let [a, b] = self.participants;
        if a == Address::ZERO || b == Address::ZERO || a == b {
            return Err("participants must be two distinct non-zero addresses".into());
        }
        Ok(())
    }

    pub fn side_of(&self, who: Address) -> Option<Side> {
        if who == self.participants[0] {
            Some(Side::A)
        } else if who == self.participants[1] {
            Some(Side::B)
        } else {
            None
        }
    }

    pub fn address(&self, side: Side) -> Address {
        self.participants[side.idx()]
    }
}

/// A pending hash time-locked payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Htlc {
    /// Unique per sender within the channel, strictly increasing.
    pub id: u64,
    /// Who locked the funds; the other side receives them with the preimage.
    pub from: Side,
    #[serde(with = "amount")]
    pub amount: Amount,
    /// `sha256(preimage)`.
    pub payment_hash: B256,
    /// Absolute expiry, unix seconds (chain time).
    pub expiry: u64,
}

impl Htlc {
    pub fn to_lock(&self) -> eip712::Lock {
        eip712::Lock {
            id: self.id,
            fromA: self.from == Side::A,
            amount: U256::from(self.amount),
            paymentHash: self.payment_hash,
            expiry: self.expiry,
        }
    }
}

/// The state both participants sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    pub nonce: u64,
    /// Spendable balance of `[A, B]`.
    #[serde(with = "amount_pair")]
    pub balances: [Amount; 2],
    /// Cumulative deposits of `[A, B]` recognised so far.
    #[serde(with = "amount_pair")]
    pub deposits: [Amount; 2],
    /// Cumulative withdrawals of `[A, B]` authorised so far.
    #[serde(with = "amount_pair")]
    pub withdrawn: [Amount; 2],
    /// Pending HTLCs, ordered by `(from, id)`.
    pub htlcs: Vec<Htlc>,
    /// A final state closes the channel cooperatively; it has no HTLCs.
    pub is_final: bool,
}

impl ChannelState {
    /// The state of a freshly opened channel, before any deposit is recognised.
    pub fn initial() -> Self {
        ChannelState {
            nonce: 0,
            balances: [0, 0],
            deposits: [0, 0],
            withdrawn: [0, 0],
            htlcs: Vec::new(),
            is_final: false,
        }
    }

    /// The value locked in HTLCs (exact for any state that holds the invariant).
    pub fn locked(&self) -> Amount {
        self.htlcs
            .iter()
            .fold(0, |acc: Amount, h| acc.saturating_add(h.amount))
    }

    pub fn htlc(&self, from: Side, id: u64) -> Option<&Htlc> {
        self.htlcs.iter().find(|h| h.from == from && h.id == id)
    }

    /// balances + locked HTLCs = deposits − withdrawals, computed without overflow.
    pub fn check_invariant(&self) -> Result<(), UpdateError> {
        let held = self
            .htlcs
            .iter()
            .try_fold(self.balances[0].checked_add(self.balances[1]), |acc, h| {
                acc.map(|a| a.checked_add(h.amount))
            })
            .flatten();
        let funded = self.deposits[0]
            .checked_add(self.deposits[1])
            .and_then(|d| d.checked_sub(self.withdrawn[0].checked_add(self.withdrawn[1])?));
        match (held, funded) {
            (Some(h), Some(f)) if h == f => Ok(()),
            _ => Err(UpdateError::InvariantViolated),
        }
    }

    pub fn locks(&self) -> Vec<eip712::Lock> {
        self.htlcs.iter().map(Htlc::to_lock).collect()
    }

    pub fn to_sol(&self, channel_id: B256) -> eip712::State {
        eip712::State {
            channelId: channel_id,
            nonce: U256::from(self.nonce),
            balanceA: U256::from(self.balances[0]),
            balanceB: U256::from(self.balances[1]),
            depositA: U256::from(self.deposits[0]),
            depositB: U256::from(self.deposits[1]),
            withdrawnA: U256::from(self.withdrawn[0]),
            withdrawnB: U256::from(self.withdrawn[1]),
            locksRoot: eip712::locks_root(&self.locks()),
            isFinal: self.is_final,
        }
    }

    /// The EIP-712 digest the participants sign for this state.
    pub fn digest(&self, params: &ChannelParams) -> B256 {
        eip712::signing_hash(&self.to_sol(params.channel_id()), &params.domain())
    }
}
