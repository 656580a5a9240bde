//! The wire protocol: every message round-trips through the binary frame and the JSON form,
//! and any malformed input (bad magic, unknown version, truncation, trailing bytes, oversized
//! or random bytes) yields a typed `l2pay::Error` and never a panic.

use alloy_primitives::B256;
use l2pay::error::{Error, UpdateError};
use l2pay::op::Op;
use l2pay::signer::{LocalSigner, Signature, Signer};
use l2pay::state::Side;
use l2pay::wire::{
    decode_frame, encode_frame, from_json, to_json, Accept, Message, Propose, Reestablish, Reject,
    RejectReason, MAGIC, MAX_FRAME, VERSION,
};
use proptest::prelude::*;

const BIG: u128 = u128::MAX;
const BIG_STR: &str = "340282366920938463463374607431768211455";

fn sig(seed: u8) -> Signature {
    LocalSigner::from_bytes(&[seed; 32])
        .unwrap()
        .sign_digest(&B256::repeat_byte(seed))
}

fn cid() -> B256 {
    B256::repeat_byte(0xc1)
}

/// Every op, with amounts that a JS number could not hold.
fn all_ops() -> Vec<Op> {
    vec![
        Op::Pay {
            payment_id: B256::repeat_byte(1),
            amount: BIG,
        },
        Op::Refund {
            payment_id: B256::repeat_byte(2),
            amount: BIG - 1,
        },
        Op::AddHtlc {
            id: 7,
            amount: BIG - 2,
            payment_hash: B256::repeat_byte(3),
            expiry: 1_700_003_600,
        },
        Op::SettleHtlc {
            id: 7,
            preimage: B256::repeat_byte(4),
        },
        Op::FailHtlc { id: 8 },
        Op::ExpireHtlc { id: u64::MAX },
        Op::Deposit {
            side: Side::B,
            total: BIG - 3,
        },
        Op::Withdraw { amount: BIG - 4 },
        Op::Close,
    ]
}

fn all_update_errors() -> Vec<UpdateError> {
    vec![
        UpdateError::ZeroAmount,
        UpdateError::Overspend {
            available: 1,
            requested: BIG,
        },
        UpdateError::DuplicatePayment(B256::repeat_byte(5)),
        UpdateError::UnknownPayment(B256::repeat_byte(6)),
        UpdateError::NotPayee,
        UpdateError::RefundExceedsPayment {
            remaining: 2,
            requested: BIG,
        },
        UpdateError::UnknownHtlc { id: 9 },
        UpdateError::HtlcIdReused { id: 3, last: 4 },
        UpdateError::TooManyHtlcs { max: 64 },
        UpdateError::WrongPreimage,
        UpdateError::HtlcExpired { expiry: 10 },
        UpdateError::HtlcNotExpired { expiry: 11 },
        UpdateError::ExpiryTooSoon {
            expiry: 12,
            earliest: 13,
        },
        UpdateError::NotHtlcReceiver,
        UpdateError::NotHtlcSender,
        UpdateError::DepositNotSeen {
            total: BIG,
            seen: 3,
        },
        UpdateError::DepositNotIncreasing {
            total: 4,
            recognised: BIG,
        },
        UpdateError::HtlcsPending,
        UpdateError::ChannelFinal,
        UpdateError::Overflow,
        UpdateError::InvariantViolated,
    ]
}

fn all_reject_reasons() -> Vec<RejectReason> {
    let mut v = vec![
        RejectReason::Conflict,
        RejectReason::BadSignature,
        RejectReason::OutOfSync,
    ];
    v.extend(all_update_errors().into_iter().map(RejectReason::Invalid));
    v
}

/// Every message variant, with every op and every reject reason, optional fields both ways.
fn all_messages() -> Vec<Message> {
    let mut v = vec![];
    for (i, op) in all_ops().into_iter().enumerate() {
        v.push(Message::Propose(Propose {
            channel_id: cid(),
            base_nonce: i as u64,
            nonce: u64::MAX - i as u64,
            op,
            sig: sig(1),
            base_sig: (i % 2 == 0).then(|| sig(2)),
        }));
    }
    v.push(Message::Accept(Accept {
        channel_id: cid(),
        nonce: 3,
        sig: sig(3),
    }));
    for (i, reason) in all_reject_reasons().into_iter().enumerate() {
        v.push(Message::Reject(Reject {
            channel_id: cid(),
            nonce: i as u64,
            reason,
            highest_signed: 1 << 40,
        }));
    }
    for latest_sig in [None, Some(sig(4))] {
        v.push(Message::Reestablish(Reestablish {
            channel_id: cid(),
            latest_nonce: 17,
            latest_sig,
            highest_signed: 18,
        }));
    }
    v
}

fn valid_frame() -> Vec<u8> {
    encode_frame(&all_messages()[0]).unwrap()
}

fn is_decode(r: &Result<Message, Error>) -> bool {
    matches!(r, Err(Error::Decode(_)))
}

// ----- round trips -----

#[test]
fn every_message_round_trips_through_the_binary_frame() {
    for msg in all_messages() {
        let frame = encode_frame(&msg).unwrap();
        assert_eq!(&frame[..2], &MAGIC, "{msg:?}");
        assert_eq!(frame[2], VERSION);
        assert!(frame.len() <= MAX_FRAME);
        assert_eq!(decode_frame::<Message>(&frame).unwrap(), msg);
        // Deterministic: encoding twice gives the same bytes.
        assert_eq!(encode_frame(&msg).unwrap(), frame);
    }
}

#[test]
fn every_message_round_trips_through_json() {
    for msg in all_messages() {
        let json = to_json(&msg);
        assert_eq!(from_json::<Message>(&json).unwrap(), msg, "{json}");
    }
}

#[test]
fn json_names_the_variant_and_camel_cases_fields() {
    let json = to_json(&all_messages()[0]);
    assert!(json.starts_with(r#"{"propose":{"channelId":"0x"#), "{json}");
    assert!(json.contains(r#""baseNonce":0"#), "{json}");
    assert!(json.contains(r#""baseSig":"0x"#), "{json}");
    assert!(json.contains(r#""paymentId":"0x0101"#), "{json}");
}

#[test]
fn json_op_amounts_are_decimal_strings() {
    let expect = [
        format!(r#""amount":"{BIG_STR}""#),
        format!(r#""amount":"{}""#, BIG - 1),
        format!(r#""amount":"{}""#, BIG - 2),
        format!(r#""total":"{}""#, BIG - 3),
        format!(r#""amount":"{}""#, BIG - 4),
    ];
    let json: Vec<String> = all_messages()
        .iter()
        .filter(|m| matches!(m, Message::Propose(_)))
        .map(to_json)
        .collect();
    for want in &expect {
        assert!(json.iter().any(|j| j.contains(want)), "{want} in {json:?}");
    }
    // No amount is ever a bare JSON number.
    for j in &json {
        for key in [r#""amount":"#, r#""total":"#] {
            for (at, _) in j.match_indices(key) {
                assert_eq!(&j[at + key.len()..][..1], "\"", "{j}");
            }
        }
    }
    let side = to_json(&Op::Deposit {
        side: Side::A,
        total: 5,
    });
    assert_eq!(side, r#"{"deposit":{"side":"A","total":"5"}}"#);
}

#[test]
fn json_amount_must_be_a_string_of_digits() {
    let ok = r#"{"withdraw":{"amount":"12"}}"#;
    assert_eq!(from_json::<Op>(ok).unwrap(), Op::Withdraw { amount: 12 });
    for bad in [
        r#"{"withdraw":{"amount":12}}"#,
        r#"{"withdraw":{"amount":"-1"}}"#,
        r#"{"withdraw":{"amount":"1.5"}}"#,
        r#"{"withdraw":{"amount":"0x10"}}"#,
        r#"{"withdraw":{"amount":"340282366920938463463374607431768211456"}}"#,
    ] {
        assert!(
            matches!(from_json::<Op>(bad), Err(Error::Decode(_))),
            "{bad}"
        );
    }
}

/// Amounts inside a rejection reason (`UpdateError`) are plain `u128` fields without the
/// decimal-string adapter, so JSON carries them as bare numbers that a JS `Number` rounds.
#[test]
fn json_reject_reason_amounts_are_decimal_strings() {
    for msg in all_messages() {
        let json = to_json(&msg);
        assert!(!json.contains(&format!(":{BIG_STR}")), "{json}");
    }
}

#[test]
fn json_rejects_bad_hex_and_bad_signature_length() {
    let good = to_json(&all_messages()[0]);
    let short_sig = good.replacen(r#""sig":"0x"#, r#""sig":"0x00"#, 1);
    assert!(matches!(
        from_json::<Message>(&short_sig),
        Err(Error::Decode(_))
    ));
    let bad_hex = good.replacen(r#""channelId":"0x"#, r#""channelId":"0xzz"#, 1);
    assert!(matches!(
        from_json::<Message>(&bad_hex),
        Err(Error::Decode(_))
    ));
    assert!(matches!(
        from_json::<Message>(&good[..good.len() - 1]),
        Err(Error::Decode(_))
    ));
    assert!(matches!(
        from_json::<Message>(r#"{"nope":{}}"#),
        Err(Error::Decode(_))
    ));
}

// ----- malformed frames -----

#[test]
fn bad_magic_is_a_decode_error() {
    let mut f = valid_frame();
    for i in 0..2 {
        let mut g = f.clone();
        g[i] ^= 0x20;
        match decode_frame::<Message>(&g) {
            Err(Error::Decode(m)) => assert!(m.contains("magic"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    f[..2].copy_from_slice(b"L3");
    assert!(is_decode(&decode_frame::<Message>(&f)));
}

#[test]
fn unsupported_versions_are_reported_with_the_version() {
    let f = valid_frame();
    for v in (0..=u8::MAX).filter(|v| *v != VERSION) {
        let mut g = f.clone();
        g[2] = v;
        assert_eq!(
            decode_frame::<Message>(&g),
            Err(Error::UnsupportedVersion(v))
        );
    }
}

#[test]
fn every_truncation_of_every_message_is_a_decode_error() {
    for msg in all_messages() {
        let f = encode_frame(&msg).unwrap();
        for len in 0..f.len() {
            let r = decode_frame::<Message>(&f[..len]);
            assert!(is_decode(&r), "{msg:?} cut at {len}: {r:?}");
        }
    }
}

#[test]
fn trailing_bytes_are_a_decode_error() {
    for msg in all_messages() {
        let mut f = encode_frame(&msg).unwrap();
        f.push(0);
        match decode_frame::<Message>(&f) {
            Err(Error::Decode(m)) => assert!(m.contains("1 trailing bytes"), "{m}"),
            other => panic!("{other:?}"),
        }
        f.extend_from_slice(&[0xff; 9]);
        match decode_frame::<Message>(&f) {
            Err(Error::Decode(m)) => assert!(m.contains("10 trailing bytes"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn oversized_frames_are_refused_before_parsing() {
    // A valid frame padded past the limit: refused by size, not by its trailing bytes.
    let mut f = valid_frame();
    f.resize(MAX_FRAME + 1, 0);
    assert_eq!(
        decode_frame::<Message>(&f),
        Err(Error::FrameTooLarge {
            size: MAX_FRAME + 1,
            max: MAX_FRAME
        })
    );
    // Garbage that large is refused the same way, whatever its header.
    let g = vec![0xffu8; 10 * MAX_FRAME];
    assert_eq!(
        decode_frame::<Message>(&g),
        Err(Error::FrameTooLarge {
            size: 10 * MAX_FRAME,
            max: MAX_FRAME
        })
    );
    // Exactly MAX_FRAME bytes is within the limit (and then fails on its content).
    let mut h = valid_frame();
    h.resize(MAX_FRAME, 0);
    assert!(is_decode(&decode_frame::<Message>(&h)));
}

#[test]
fn oversized_values_are_not_encoded() {
    // Any wire type goes through `encode_frame`; one larger than a frame is refused.
    let blob = vec![7u8; MAX_FRAME];
    match encode_frame(&blob) {
        Err(Error::FrameTooLarge { size, max }) => {
            assert!(size > MAX_FRAME);
            assert_eq!(max, MAX_FRAME);
        }
        other => panic!("{other:?}"),
    }
    // The largest payload that fits: header (3) + varint length (3) + bytes.
    let fits = vec![7u8; MAX_FRAME - 6];
    let f = encode_frame(&fits).unwrap();
    assert_eq!(f.len(), MAX_FRAME);
    assert_eq!(decode_frame::<Vec<u8>>(&f).unwrap(), fits);
}

#[test]
fn oversized_json_is_refused() {
    let json = format!(r#"{{"close":null,"pad":"{}"}}"#, " ".repeat(MAX_FRAME));
    assert!(matches!(
        from_json::<Message>(&json),
        Err(Error::FrameTooLarge { max: MAX_FRAME, .. })
    ));
}

#[test]
fn bad_enum_tags_and_signature_lengths_are_decode_errors() {
    let f = valid_frame();
    // Byte 3 is the `Message` variant tag (4 variants).
    let mut g = f.clone();
    g[3] = 4;
    assert!(is_decode(&decode_frame::<Message>(&g)));
    // A Propose of a Close op ends `.. op tag, sig len (65), sig, base_sig option`.
    let close = all_messages()
        .into_iter()
        .find(|m| matches!(m, Message::Propose(Propose { op: Op::Close, .. })))
        .unwrap();
    let f = encode_frame(&close).unwrap();
    let len_at = f.iter().position(|&b| b == 65).unwrap();
    for wrong in [0u8, 64, 66] {
        let mut g = f.clone();
        g[len_at] = wrong;
        assert!(is_decode(&decode_frame::<Message>(&g)), "sig len {wrong}");
    }
}

// ----- properties -----

fn b256() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::from)
}

fn signature() -> impl Strategy<Value = Signature> {
    (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<u8>()).prop_map(|(r, s, v)| {
        let mut b = [0u8; 65];
        b[..32].copy_from_slice(&r);
        b[32..64].copy_from_slice(&s);
        b[64] = v;
        Signature(b)
    })
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::A), Just(Side::B)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (b256(), any::<u128>()).prop_map(|(payment_id, amount)| Op::Pay { payment_id, amount }),
        (b256(), any::<u128>()).prop_map(|(payment_id, amount)| Op::Refund { payment_id, amount }),
        (any::<u64>(), any::<u128>(), b256(), any::<u64>()).prop_map(
            |(id, amount, payment_hash, expiry)| Op::AddHtlc {
                id,
                amount,
                payment_hash,
                expiry
            }
        ),
        (any::<u64>(), b256()).prop_map(|(id, preimage)| Op::SettleHtlc { id, preimage }),
        any::<u64>().prop_map(|id| Op::FailHtlc { id }),
        any::<u64>().prop_map(|id| Op::ExpireHtlc { id }),
        (side(), any::<u128>()).prop_map(|(side, total)| Op::Deposit { side, total }),
        any::<u128>().prop_map(|amount| Op::Withdraw { amount }),
        Just(Op::Close),
    ]
}

fn reject_reason() -> impl Strategy<Value = RejectReason> {
    let fixed = all_reject_reasons();
    let n = fixed.len();
    prop_oneof![
        (0..n).prop_map(move |i| fixed[i].clone()),
        (any::<u128>(), any::<u128>()).prop_map(|(available, requested)| {
            RejectReason::Invalid(UpdateError::Overspend {
                available,
                requested,
            })
        }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            b256(),
            any::<u64>(),
            any::<u64>(),
            op(),
            signature(),
            proptest::option::of(signature())
        )
            .prop_map(|(channel_id, base_nonce, nonce, op, sig, base_sig)| {
                Message::Propose(Propose {
                    channel_id,
                    base_nonce,
                    nonce,
                    op,
                    sig,
                    base_sig,
                })
            }),
        (b256(), any::<u64>(), signature()).prop_map(|(channel_id, nonce, sig)| {
            Message::Accept(Accept {
                channel_id,
                nonce,
                sig,
            })
        }),
        (b256(), any::<u64>(), reject_reason(), any::<u64>()).prop_map(
            |(channel_id, nonce, reason, highest_signed)| Message::Reject(Reject {
                channel_id,
                nonce,
                reason,
                highest_signed,
            })
        ),
        (
            b256(),
            any::<u64>(),
            proptest::option::of(signature()),
            any::<u64>()
        )
            .prop_map(|(channel_id, latest_nonce, latest_sig, highest_signed)| {
                Message::Reestablish(Reestablish {
                    channel_id,
                    latest_nonce,
                    latest_sig,
                    highest_signed,
                })
            }),
    ]
}

/// The only errors a decoder may give, and what the header alone determines.
fn check_decode(bytes: &[u8]) {
    let r = decode_frame::<Message>(bytes);
    match &r {
        Ok(m) => {
            // Whatever decodes re-encodes to something that decodes to the same value.
            let again = encode_frame(m).expect("a decoded message re-encodes");
            assert_eq!(decode_frame::<Message>(&again).as_ref(), Ok(m));
        }
        Err(Error::FrameTooLarge { size, max }) => {
            assert_eq!((*size, *max), (bytes.len(), MAX_FRAME));
            assert!(bytes.len() > MAX_FRAME);
        }
        Err(Error::UnsupportedVersion(v)) => {
            assert_eq!(&bytes[..2], &MAGIC);
            assert_eq!(*v, bytes[2]);
            assert_ne!(*v, VERSION);
        }
        Err(Error::Decode(_)) => {}
        Err(other) => panic!("unexpected error kind {other:?}"),
    }
    if bytes.len() < 3 || bytes[..2] != MAGIC {
        assert!(matches!(r, Err(Error::Decode(_))), "{r:?}");
    } else if bytes[2] != VERSION {
        assert_eq!(r, Err(Error::UnsupportedVersion(bytes[2])));
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=u8::MAX).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Set(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
    ]
}

fn mutate(f: &mut Vec<u8>, m: &Mutation) {
    let n = f.len();
    match m {
        Mutation::Flip(i, x) => f[i % n] ^= x,
        Mutation::Set(i, x) => f[i % n] = *x,
        Mutation::Insert(i, x) => f.insert(i % (n + 1), *x),
        Mutation::Remove(i) => {
            f.remove(i % n);
        }
        Mutation::Truncate(i) => f.truncate(i % n),
        Mutation::Append(b) => f.extend_from_slice(b),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_messages_round_trip(msg in message()) {
        let frame = encode_frame(&msg).unwrap();
        prop_assert!(frame.len() <= MAX_FRAME);
        prop_assert_eq!(decode_frame::<Message>(&frame).unwrap(), msg.clone());
        let json = to_json(&msg);
        prop_assert_eq!(from_json::<Message>(&json).unwrap(), msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_decode(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = from_json::<Message>(s);
        }
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..256)
    ) {
        let mut f = MAGIC.to_vec();
        f.push(VERSION);
        f.extend_from_slice(&body);
        check_decode(&f);
    }

    #[test]
    fn mutated_frames_never_panic(
        msg in message(),
        muts in proptest::collection::vec(mutation(), 1..4)
    ) {
        let mut f = encode_frame(&msg).unwrap();
        for m in &muts {
            if f.is_empty() {
                break;
            }
            mutate(&mut f, m);
        }
        check_decode(&f);
    }

    #[test]
    fn mutated_json_never_panics(msg in message(), i in any::<usize>(), c in any::<char>()) {
        let mut json: Vec<char> = to_json(&msg).chars().collect();
        let at = i % json.len();
        json[at] = c;
        let s: String = json.into_iter().collect();
        match from_json::<Message>(&s) {
            Ok(m) => prop_assert_eq!(from_json::<Message>(&to_json(&m)).unwrap(), m),
            Err(Error::Decode(_)) => {}
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }
}

/// Writes the fuzz seed corpus (`fuzz/seeds/decode_frame/`): one binary frame and one JSON
/// text per message kind. Run with
/// `L2PAY_WRITE_SEEDS=1 cargo test --test wire write_fuzz_seeds -- --ignored`.
#[test]
#[ignore = "writes fuzz/seeds; run on demand"]
fn write_fuzz_seeds() {
    if std::env::var_os("L2PAY_WRITE_SEEDS").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/decode_frame");
    std::fs::create_dir_all(&dir).unwrap();
    let msgs = all_messages();
    // Indices into `all_messages`: Propose of each op (0..9), Accept, Reject reasons, ...
    let seeds = [
        ("propose_pay", &msgs[0]),
        ("propose_add_htlc", &msgs[2]),
        ("propose_settle_htlc", &msgs[3]),
        ("propose_deposit", &msgs[6]),
        ("accept", &msgs[9]),
        ("reject_overspend", &msgs[14]),
        ("reestablish", &msgs[msgs.len() - 1]),
    ];
    assert!(matches!(
        seeds[5].1,
        Message::Reject(Reject {
            reason: RejectReason::Invalid(UpdateError::Overspend { .. }),
            ..
        })
    ));
    for (name, msg) in seeds {
        std::fs::write(dir.join(format!("{name}.bin")), encode_frame(msg).unwrap()).unwrap();
        std::fs::write(dir.join(format!("{name}.json")), to_json(msg)).unwrap();
    }
}
