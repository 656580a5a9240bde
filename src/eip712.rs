//! EIP-712 typed data shared with the adjudicator contract (`contracts/Adjudicator.sol`).
//!
//! The struct definitions below are the single source of truth for what a signature covers.
//! The contract declares the same type strings; `tests/eip712.rs` reproduces the EIP-712
//! specification's own example to the byte, and the contract tests check that the contract
//! accepts states signed here.

use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_sol_types::{sol, Eip712Domain, SolStruct, SolValue};

sol! {
    /// The signed channel state, as the adjudicator hashes it.
    #[derive(Debug, PartialEq, Eq)]
    struct State {
        bytes32 channelId;
        uint256 nonce;
        uint256 balanceA;
        uint256 balanceB;
        uint256 depositA;
        uint256 depositB;
        uint256 withdrawnA;
        uint256 withdrawnB;
        bytes32 locksRoot;
        bool isFinal;
    }

    /// One pending hash time-locked payment; the state commits to the list by its locks root.
    #[derive(Debug, PartialEq, Eq)]
    struct Lock {
        uint64 id;
        bool fromA;
        uint256 amount;
        bytes32 paymentHash;
        uint64 expiry;
    }

    // The adjudicator calls that take these structs (a selector needs the structs' components,
    // so they are declared in the same `sol!`); `crate::abi` encodes them.
    function withdraw(State s, bytes sigA, bytes sigB) external;
    function closeCooperative(State s, bytes sigA, bytes sigB) external;
    function closeUnilateral(State s, bytes sigA, bytes sigB, Lock[] locks) external;
    function challenge(State s, bytes sigA, bytes sigB, Lock[] locks) external;
    function settle(bytes32 channelId, Lock[] locks) external;
}

/// EIP-712 domain name and version of every l2pay signature.
pub const DOMAIN_NAME: &str = "l2pay";
pub const DOMAIN_VERSION: &str = "1";

/// The domain binds a signature to one chain and one adjudicator contract.
pub fn domain(chain_id: u64, adjudicator: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(DOMAIN_NAME.into()),
        Some(DOMAIN_VERSION.into()),
        Some(U256::from(chain_id)),
        Some(adjudicator),
        None,
    )
}

/// `keccak256(abi.encode(locks))`, or zero for no locks (what the contract computes).
pub fn locks_root(locks: &[Lock]) -> B256 {
    if locks.is_empty() {
        return B256::ZERO;
    }
    keccak256(locks.to_vec().abi_encode())
}

/// The 32-byte digest a participant signs: `keccak256("\x19\x01" ‖ domainSeparator ‖ hashStruct)`.
pub fn signing_hash<T: SolStruct>(value: &T, domain: &Eip712Domain) -> B256 {
    value.eip712_signing_hash(domain)
}

sol! {
    /// A merchant's signed payment request.
    #[derive(Debug, PartialEq, Eq)]
    struct Invoice {
        uint256 amount;
        address token;
        bytes32 paymentHash;
        uint64 expiry;
        address merchant;
        string hubUrl;
        string description;
    }
}

/// The domain of invoices: bound to a chain, not to a contract (an invoice names no channel).
pub fn invoice_domain(chain_id: u64) -> Eip712Domain {
    Eip712Domain::new(
        Some(DOMAIN_NAME.into()),
        Some(DOMAIN_VERSION.into()),
        Some(U256::from(chain_id)),
        None,
        None,
    )
}

sol! {
    /// What a client signs to prove it controls a channel key when it connects to a hub.
    #[derive(Debug, PartialEq, Eq)]
    struct Auth {
        address hub;
        address client;
        bytes32 challenge;
    }
}
