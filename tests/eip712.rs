//! EIP-712 conformance: the specification's own "Mail" example, to the byte, and the shapes of
//! l2pay's own typed data that the adjudicator contract must agree with.

use alloy_primitives::{address, b256, keccak256, Address, B256, U256};
use alloy_sol_types::{sol, Eip712Domain, SolStruct};
use l2pay::eip712::{self, Lock};
use l2pay::signer::{LocalSigner, Signature, Signer};
use l2pay::state::{ChannelParams, ChannelState, Htlc, Side};

sol! {
    struct Person {
        string name;
        address wallet;
    }
    struct Mail {
        Person from;
        Person to;
        string contents;
    }
}

fn mail() -> (Mail, Eip712Domain) {
    let mail = Mail {
        from: Person {
            name: "Cow".into(),
            wallet: address!("CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"),
        },
        to: Person {
            name: "Bob".into(),
            wallet: address!("bBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"),
        },
        contents: "Hello, Bob!".into(),
    };
    let domain = Eip712Domain::new(
        Some("Ether Mail".into()),
        Some("1".into()),
        Some(U256::from(1)),
        Some(address!("CcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC")),
        None,
    );
    (mail, domain)
}

#[test]
fn spec_mail_example_digest_matches_byte_for_byte() {
    let (mail, domain) = mail();
    assert_eq!(
        domain.separator(),
        b256!("f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f")
    );
    assert_eq!(
        mail.eip712_hash_struct(),
        b256!("c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e")
    );
    assert_eq!(
        eip712::signing_hash(&mail, &domain),
        b256!("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
    );
}

#[test]
fn spec_mail_example_signature_matches_byte_for_byte() {
    let (mail, domain) = mail();
    let secret = keccak256("cow");
    let signer = LocalSigner::from_bytes(&secret.0).unwrap();
    assert_eq!(
        signer.address(),
        address!("CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826")
    );
    let digest = eip712::signing_hash(&mail, &domain);
    let sig = signer.sign_digest(&digest);
    let expected = hex::decode(concat!(
        "4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d",
        "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562",
        "1c"
    ))
    .unwrap();
    assert_eq!(sig.as_bytes().as_slice(), expected.as_slice());
    assert_eq!(sig.recover(&digest).unwrap(), signer.address());
}

#[test]
fn type_strings_are_the_ones_the_contract_declares() {
    assert_eq!(
        eip712::State::eip712_encode_type(),
        "State(bytes32 channelId,uint256 nonce,uint256 balanceA,uint256 balanceB,uint256 depositA,\
         uint256 depositB,uint256 withdrawnA,uint256 withdrawnB,bytes32 locksRoot,bool isFinal)"
    );
}

#[test]
fn locks_root_is_keccak_of_abi_encoded_dynamic_array() {
    assert_eq!(eip712::locks_root(&[]), B256::ZERO);
    let lock = Lock {
        id: 7,
        fromA: true,
        amount: U256::from(5u64),
        paymentHash: B256::repeat_byte(0xab),
        expiry: 1_000,
    };
    // abi.encode(Lock[]) = offset 0x20, length 1, then the five static words.
    let mut manual = Vec::new();
    for word in [
        U256::from(0x20),
        U256::from(1),
        U256::from(7),
        U256::from(1),
        U256::from(5),
    ] {
        manual.extend_from_slice(&word.to_be_bytes::<32>());
    }
    manual.extend_from_slice(B256::repeat_byte(0xab).as_slice());
    manual.extend_from_slice(&U256::from(1_000).to_be_bytes::<32>());
    assert_eq!(eip712::locks_root(&[lock]), keccak256(&manual));
}

#[test]
fn tampering_with_any_field_changes_the_signer() {
    let a = LocalSigner::from_bytes(&[1; 32]).unwrap();
    let params = ChannelParams {
        chain_id: 31337,
        adjudicator: Address::repeat_byte(9),
        participants: [a.address(), Address::repeat_byte(2)],
        token: Address::ZERO,
        challenge_period: 3600,
        salt: B256::ZERO,
    };
    let mut state = ChannelState::initial();
    state.deposits = [10, 0];
    state.balances = [7, 0];
    state.htlcs.push(Htlc {
        id: 1,
        from: Side::A,
        amount: 3,
        payment_hash: B256::repeat_byte(1),
        expiry: 99,
    });
    state.check_invariant().unwrap();
    let sig = a.sign_digest(&state.digest(&params));
    sig.verify(&state.digest(&params), a.address()).unwrap();

    let mut other = state.clone();
    other.htlcs[0].expiry = 100;
    assert_ne!(sig.recover(&other.digest(&params)).unwrap(), a.address());
    let mut other_chain = params.clone();
    other_chain.chain_id = 1;
    assert_ne!(
        sig.recover(&state.digest(&other_chain)).unwrap(),
        a.address()
    );
}

#[test]
fn high_s_and_bad_v_are_rejected() {
    let a = LocalSigner::from_bytes(&[3; 32]).unwrap();
    let digest = B256::repeat_byte(5);
    let sig = a.sign_digest(&digest);
    // Flip s to n - s and v to the other parity: the "malleable twin" of a valid signature.
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_slice(&sig.0[32..64]);
    let mut twin = sig.0;
    twin[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    twin[64] = if sig.0[64] == 27 { 28 } else { 27 };
    assert_eq!(
        Signature(twin).recover(&digest),
        Err(l2pay::error::SignatureError::HighS)
    );
    let mut bad_v = sig.0;
    bad_v[64] = 29;
    assert!(Signature(bad_v).recover(&digest).is_err());
    assert!(Signature::from_slice(&[0u8; 64]).is_err());
}
