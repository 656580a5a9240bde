//! `WalletCore`, the wallet engine the SDK drives: handshake, channel creation with the
//! persist it asks for, contract calldata, and typed errors that change nothing.

use alloy_primitives::{keccak256, Address, B256};
use js_sys::{Array, Reflect, Uint8Array};
use l2pay::op::Policy;
use l2pay::router::RoutingPolicy;
use l2pay::session::{verify_auth, Frame, HubTerms};
use l2pay::wasm::{decode_log, event_topic, tx_approve, WalletCore};
use l2pay::wire::{decode_frame, encode_frame};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

use super::{assert_js_error, cow};

const HUB: Address = Address::repeat_byte(0xbb);
const ADJUDICATOR: Address = Address::repeat_byte(0xad);
const NOW: f64 = 1_700_000_000_000.0;

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

fn outputs(core: &mut WalletCore) -> Vec<JsValue> {
    let out: Array = core.drain();
    out.iter().collect()
}

fn sent_frames(outs: &[JsValue]) -> Vec<Frame> {
    outs.iter()
        .filter(|o| get(o, "kind").as_string().as_deref() == Some("send"))
        .map(|o| {
            let bytes = Uint8Array::from(get(o, "bytes")).to_vec();
            decode_frame(&bytes).unwrap()
        })
        .collect()
}

fn feed(core: &mut WalletCore, f: &Frame) {
    core.handle_frame(&encode_frame(f).unwrap(), NOW).unwrap();
}

fn welcomed() -> WalletCore {
    let mut core = WalletCore::new(&cow());
    feed(
        &mut core,
        &Frame::Challenge {
            hub: HUB,
            chain_id: 31337,
            adjudicator: ADJUDICATOR,
            challenge: B256::repeat_byte(1),
        },
    );
    let out = outputs(&mut core);
    let [Frame::Auth { client, sig }] = &sent_frames(&out)[..] else {
        panic!("expected an Auth frame");
    };
    verify_auth(31337, HUB, B256::repeat_byte(1), *client, sig).unwrap();
    feed(
        &mut core,
        &Frame::Welcome {
            channels: vec![],
            policy: Policy::default(),
            routing: RoutingPolicy::default(),
            terms: HubTerms {
                min_challenge_period: 600,
                tokens: vec![Address::ZERO],
            },
        },
    );
    let out = outputs(&mut core);
    let event = get(&out[0], "event");
    assert_eq!(get(&event, "type").as_string().as_deref(), Some("welcome"));
    core
}

#[wasm_bindgen_test]
fn wallet_core_answers_the_challenge_and_reports_the_welcome() {
    let core = welcomed();
    assert_eq!(core.hub().unwrap(), HUB.to_checksum(None));
}

#[wasm_bindgen_test]
fn a_channel_needs_a_welcomed_hub_and_is_stored_before_it_is_funded() {
    let mut fresh = WalletCore::new(&cow());
    let zero = Address::ZERO.to_string();
    let salt = B256::repeat_byte(9).to_string();
    assert_js_error(
        fresh.create_channel(&zero, 3600.0, &salt).unwrap_err(),
        "NOT_CONNECTED",
    );

    let mut core = welcomed();
    // What the hub's welcome says it would refuse is refused before any money moves.
    assert_js_error(
        core.create_channel(&zero, 599.0, &salt).unwrap_err(),
        "BAD_CHANNEL",
    );
    assert_js_error(
        core.create_channel(&HUB.to_string(), 3600.0, &salt)
            .unwrap_err(),
        "BAD_CHANNEL",
    );
    assert!(
        outputs(&mut core).is_empty(),
        "nothing to store for a refused channel"
    );
    let id = core.create_channel(&zero, 3600.0, &salt).unwrap();
    let out = outputs(&mut core);
    let persist = out
        .iter()
        .find(|o| get(o, "kind").as_string().as_deref() == Some("persist"))
        .expect("the new channel is to be stored");
    assert_eq!(get(persist, "channelId").as_string().unwrap(), id);
    let snapshot = get(persist, "snapshot").as_string().unwrap();
    assert!(snapshot.contains("\"nonce\":0"), "{snapshot}");

    let open = core.tx_open(&id, "5000000").unwrap();
    let selector = &keccak256("openFor(address,address,address,uint256,uint64,bytes32)")[..4];
    assert_eq!(&open[2..10], alloy_primitives::hex::encode(selector));
    assert_js_error(core.tx_open(&id, "-1").unwrap_err(), "MALFORMED");
    assert_js_error(
        core.tx_state(&id, "withdraw").unwrap_err(),
        "NO_SIGNED_STATE",
    );
}

#[wasm_bindgen_test]
fn bad_inputs_throw_typed_errors_and_change_nothing() {
    let mut core = welcomed();
    let zero = Address::ZERO.to_string();
    let id = core
        .create_channel(&zero, 3600.0, &B256::repeat_byte(9).to_string())
        .unwrap();
    outputs(&mut core);
    let before = js_sys::JSON::stringify(&core.channel(&id).unwrap()).unwrap();
    assert_js_error(
        core.pay(&id, "l2pay1nonsense", NOW).unwrap_err(),
        "INVALID_INVOICE",
    );
    assert_js_error(core.handle_frame(b"garbage", NOW).unwrap_err(), "MALFORMED");
    assert_js_error(core.withdraw(&id, "10", NOW).unwrap_err(), "INVALID_UPDATE");
    let unknown = B256::repeat_byte(7).to_string();
    assert_js_error(core.close(&unknown, NOW).unwrap_err(), "UNKNOWN_CHANNEL");
    assert!(core.channel(&unknown).unwrap().is_undefined());
    let after = js_sys::JSON::stringify(&core.channel(&id).unwrap()).unwrap();
    assert_eq!(before, after);
    assert!(outputs(&mut core).is_empty(), "nothing to send or store");
}

#[wasm_bindgen_test]
fn calldata_and_logs() {
    let approve = tx_approve(&ADJUDICATOR.to_string(), "1").unwrap();
    assert!(approve.starts_with("0x095ea7b3"), "{approve}");
    let unrelated = vec![B256::repeat_byte(1).to_string()];
    assert!(decode_log(unrelated, "0x").unwrap().is_null());
    assert_js_error(event_topic("Nope").unwrap_err(), "MALFORMED");
    assert!(event_topic("Settled").unwrap().starts_with("0x"));
}
