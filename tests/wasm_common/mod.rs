//! Tests of the JavaScript surface shared by `wasm_browser.rs` (headless Chromium) and
//! `wasm_node.rs` (Node): the same assertions must hold in both hosts.

use alloy_primitives::{address, b256, keccak256, Address, B256, U256};
use alloy_sol_types::{sol, Eip712Domain};
use js_sys::{Reflect, JSON};
use l2pay::invoice::{Invoice, InvoiceRequest};
use l2pay::wasm::{parse_invoice, sign_state, verify_state, Key};
use l2pay::{eip712, LocalSigner, Signer};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

mod wallet;

/// keccak256("cow"): the EIP-712 specification's example key, address `0xCD2a…D826`.
const COW: &str = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";

const PARAMS: &str = r#"{
    "chain_id": 31337,
    "adjudicator": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "participants": ["0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826", "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"],
    "token": "0x0000000000000000000000000000000000000000",
    "challenge_period": 3600,
    "salt": "0x0000000000000000000000000000000000000000000000000000000000000001"
}"#;

/// Amounts above 2^64 and 2^53: they only survive as decimal strings.
const STATE: &str = r#"{
    "nonce": 7,
    "balances": ["700000000000000000000", "250"],
    "deposits": ["1000000000000000000000", "0"],
    "withdrawn": ["0", "0"],
    "htlcs": [{
        "id": 1, "from": "A", "amount": "299999999999999999750",
        "payment_hash": "0xabababababababababababababababababababababababababababababababab",
        "expiry": 1800000000
    }],
    "is_final": false
}"#;

/// The signature the native build (`LocalSigner` on x86_64) produces for `STATE` in `PARAMS`
/// with the cow key.
const NATIVE_SIGNATURE: &str = concat!(
    "0xc447208b847df77f26d9dc01aa7019f25ed3b1558454937af6dd89f4e89cdb36",
    "6b11e856f12728b8bf481d3510120efb4a90855f040992a6cfd552d0ada1e113",
    "1b"
);

fn js(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON parses")
}

fn cow() -> Key {
    Key::from_bytes(keccak256("cow").as_slice()).expect("cow key is valid")
}

/// Asserts that `err` is a JS `Error` with the given `code`.
fn assert_js_error(err: impl Into<JsValue>, code: &str) {
    let err: JsValue = err.into();
    assert!(
        err.is_instance_of::<js_sys::Error>(),
        "not an Error: {err:?}"
    );
    let got = Reflect::get(&err, &"code".into()).unwrap();
    assert_eq!(got.as_string().as_deref(), Some(code), "{err:?}");
    let message = err.unchecked_ref::<js_sys::Error>().message();
    assert!(!String::from(message).is_empty());
}

#[wasm_bindgen_test]
fn generated_keys_are_distinct_and_round_trip_through_bytes() {
    let a = Key::generate().unwrap();
    let b = Key::generate().unwrap();
    assert_ne!(a.address(), b.address());
    assert_eq!(a.address().len(), 42);
    assert!(a.address().starts_with("0x"));
    let restored = Key::from_bytes(&a.to_bytes()).unwrap();
    assert_eq!(restored.address(), a.address());
}

#[wasm_bindgen_test]
fn key_from_bytes_rejects_wrong_length_zero_and_out_of_range() {
    assert_js_error(Key::from_bytes(&[1; 31]).err().unwrap(), "INVALID_KEY");
    assert_js_error(Key::from_bytes(&[0; 32]).err().unwrap(), "INVALID_KEY");
    assert_js_error(Key::from_bytes(&[0xff; 32]).err().unwrap(), "INVALID_KEY");
}

#[wasm_bindgen_test]
fn key_address_is_the_checksummed_ethereum_address() {
    assert_eq!(cow().address(), COW);
}

#[wasm_bindgen_test]
fn signed_state_verifies_to_the_signers_address() {
    let key = Key::generate().unwrap();
    let signature = sign_state(&key, js(PARAMS), js(STATE)).unwrap();
    assert_eq!(signature.len(), 2 + 130);
    let signer = verify_state(js(PARAMS), js(STATE), &signature).unwrap();
    assert_eq!(signer, key.address());
}

#[wasm_bindgen_test]
fn signature_in_wasm_is_byte_identical_to_native() {
    let signature = sign_state(&cow(), js(PARAMS), js(STATE)).unwrap();
    assert_eq!(signature, NATIVE_SIGNATURE);
    assert_eq!(
        verify_state(js(PARAMS), js(STATE), NATIVE_SIGNATURE).unwrap(),
        COW
    );
}

#[wasm_bindgen_test]
fn tampered_state_recovers_a_different_address() {
    let tampered = STATE.replace("\"250\"", "\"251\"");
    let signer = verify_state(js(PARAMS), js(&tampered), NATIVE_SIGNATURE).unwrap();
    assert_ne!(signer, COW);
}

#[wasm_bindgen_test]
fn bad_signatures_throw_bad_signature() {
    let bad_v = format!("{}1d", &NATIVE_SIGNATURE[..NATIVE_SIGNATURE.len() - 2]);
    let short = &NATIVE_SIGNATURE[..NATIVE_SIGNATURE.len() - 2];
    for sig in [bad_v.as_str(), short, "0xnothex", ""] {
        let err = verify_state(js(PARAMS), js(STATE), sig).unwrap_err();
        assert_js_error(err, "BAD_SIGNATURE");
    }
}

#[wasm_bindgen_test]
fn high_s_twin_of_a_valid_signature_is_rejected() {
    let bytes = alloy_primitives::hex::decode(NATIVE_SIGNATURE).unwrap();
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_slice(&bytes[32..64]);
    let mut twin = bytes.clone();
    twin[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    twin[64] = if bytes[64] == 27 { 28 } else { 27 };
    let twin = format!("0x{}", alloy_primitives::hex::encode(twin));
    let err = verify_state(js(PARAMS), js(STATE), &twin).unwrap_err();
    assert_js_error(err, "BAD_SIGNATURE");
}

#[wasm_bindgen_test]
fn undecodable_input_throws_malformed() {
    let numeric_amount = STATE.replace("\"250\"", "250");
    let err = sign_state(&cow(), js(PARAMS), js(&numeric_amount)).unwrap_err();
    assert_js_error(err, "MALFORMED");
    let err = verify_state(js("{}"), js(STATE), NATIVE_SIGNATURE).unwrap_err();
    assert_js_error(err, "MALFORMED");
}

#[wasm_bindgen_test]
fn state_breaking_the_balance_invariant_is_not_signed() {
    let overdrawn = STATE.replace("\"250\"", "\"251\"");
    let err = sign_state(&cow(), js(PARAMS), js(&overdrawn)).unwrap_err();
    assert_js_error(err, "INVALID_UPDATE");
}

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

#[wasm_bindgen_test]
fn spec_mail_example_gives_the_spec_digest_and_signature() {
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
    let digest = eip712::signing_hash(&mail, &domain);
    assert_eq!(
        digest,
        b256!("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
    );
    let signer = LocalSigner::from_bytes(&keccak256("cow").0).unwrap();
    let signature = signer.sign_digest(&digest);
    assert_eq!(
        format!("{signature:?}"),
        concat!(
            "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d",
            "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562",
            "1c"
        )
    );
    assert_eq!(signature.recover(&digest).unwrap(), signer.address());
}

fn invoice_request(merchant: Address) -> InvoiceRequest {
    InvoiceRequest {
        chain_id: 31337,
        amount: 12_340_000_000_000_000_000,
        token: Address::ZERO,
        payment_hash: B256::repeat_byte(0x42),
        expiry: 1_800_000_000,
        merchant,
        hub_url: "wss://hub.example/ws".into(),
        description: "2 × coffee beans".into(),
    }
}

fn get(object: &JsValue, field: &str) -> JsValue {
    Reflect::get(object, &field.into()).unwrap()
}

#[wasm_bindgen_test]
fn parsed_invoice_is_a_plain_object_with_checksummed_merchant_and_string_amount() {
    let merchant = LocalSigner::from_bytes(&keccak256("cow").0).unwrap();
    let encoded = invoice_request(merchant.address())
        .sign(&merchant)
        .unwrap()
        .encode()
        .unwrap();
    let invoice = parse_invoice(&encoded).unwrap();
    assert_eq!(
        get(&invoice, "merchant").as_string().unwrap(),
        cow().address()
    );
    assert_eq!(
        get(&invoice, "amount").as_string().as_deref(),
        Some("12340000000000000000")
    );
    assert_eq!(get(&invoice, "chainId").as_f64(), Some(31337.0));
    assert_eq!(get(&invoice, "expiry").as_f64(), Some(1_800_000_000.0));
    assert_eq!(
        get(&invoice, "hubUrl").as_string().as_deref(),
        Some("wss://hub.example/ws")
    );
    assert_eq!(
        get(&invoice, "description").as_string().as_deref(),
        Some("2 × coffee beans")
    );
    assert_eq!(
        get(&invoice, "paymentHash").as_string().unwrap(),
        format!("{}", B256::repeat_byte(0x42))
    );
    assert_eq!(get(&invoice, "signature").as_string().unwrap().len(), 132);
}

#[wasm_bindgen_test]
fn mistyped_invoice_throws_invalid_invoice() {
    let merchant = LocalSigner::from_bytes(&[9; 32]).unwrap();
    let encoded = invoice_request(merchant.address())
        .sign(&merchant)
        .unwrap()
        .encode()
        .unwrap();
    let last = encoded.chars().last().unwrap();
    let typo = format!(
        "{}{}",
        &encoded[..encoded.len() - 1],
        if last == 'q' { 'p' } else { 'q' }
    );
    assert_js_error(parse_invoice(&typo).unwrap_err(), "INVALID_INVOICE");
    assert_js_error(parse_invoice("hello").unwrap_err(), "INVALID_INVOICE");
}

#[wasm_bindgen_test]
fn invoice_signed_by_someone_else_throws_bad_signature() {
    let merchant = LocalSigner::from_bytes(&[9; 32]).unwrap();
    let thief = LocalSigner::from_bytes(&[8; 32]).unwrap();
    let request = invoice_request(merchant.address());
    let signature = thief.sign_digest(&request.digest());
    let forged = Invoice { request, signature }.encode().unwrap();
    assert_js_error(parse_invoice(&forged).unwrap_err(), "BAD_SIGNATURE");
}
