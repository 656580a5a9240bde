//! The wallet's sans-IO session core (`ClientCore`): authentication, recovery from the hub's
//! countersigned state (only a state both ends signed is adopted) and payment errors that
//! leave the channel unchanged.

mod common;

use alloy_primitives::{Address, B256};
use common::{params, signer, Pair, T0};
use l2pay::client::{ClientCore, ClientEvent, ClientOutput};
use l2pay::invoice::InvoiceRequest;
use l2pay::op::{payment_hash, Policy};
use l2pay::router::RoutingPolicy;
use l2pay::session::{verify_auth, Frame, HubTerms, SyncState};
use l2pay::signer::Signer;
use l2pay::wire::{decode_frame, encode_frame};
use l2pay::Side;

const CHALLENGE: B256 = B256::repeat_byte(0x42);

fn feed(core: &mut ClientCore, f: &Frame) -> Result<Vec<ClientOutput>, l2pay::Error> {
    let r = core.handle_frame(&encode_frame(f).unwrap(), T0);
    let mut out = vec![];
    while let Some(o) = core.poll_output() {
        out.push(o);
    }
    r.map(|()| out)
}

fn sent(out: &[ClientOutput]) -> Vec<Frame> {
    out.iter()
        .filter_map(|o| match o {
            ClientOutput::Send(b) => Some(decode_frame(b).unwrap()),
            _ => None,
        })
        .collect()
}

/// A wallet (key 1) authenticated with a hub (key 2) that lists the channel of `params`.
fn welcomed(resync: bool) -> ClientCore {
    let (a, hub) = (signer(1), signer(2));
    let p = params(&a, &hub);
    let mut core = ClientCore::new(a.clone());
    core.set_resync(resync);
    let challenge = Frame::Challenge {
        hub: hub.address(),
        chain_id: p.chain_id,
        adjudicator: p.adjudicator,
        challenge: CHALLENGE,
    };
    let out = feed(&mut core, &challenge).unwrap();
    let [Frame::Auth { client, sig }] = &sent(&out)[..] else {
        panic!("expected one Auth frame, got {out:?}");
    };
    verify_auth(p.chain_id, hub.address(), CHALLENGE, *client, sig).expect("auth verifies");
    let welcome = Frame::Welcome {
        channels: vec![p],
        policy: Policy::default(),
        routing: RoutingPolicy::default(),
        terms: HubTerms {
            min_challenge_period: 60,
            tokens: vec![Address::ZERO],
        },
    };
    let out = feed(&mut core, &welcome).unwrap();
    let frames = sent(&out);
    if resync {
        assert!(matches!(&frames[..], [Frame::Sync { .. }]), "{frames:?}");
    } else {
        assert!(frames.is_empty(), "{frames:?}");
    }
    core
}

/// The hub's view of an agreed channel with 100 deposited by A and 30 paid to the hub.
fn hub_sync() -> SyncState {
    let mut pair = Pair::funded([100, 0]);
    pair.a
        .propose(
            l2pay::Op::Pay {
                payment_id: B256::repeat_byte(8),
                amount: 30,
            },
            pair.now,
        )
        .unwrap();
    pair.run();
    let (state, sigs) = pair.b.signed_latest().expect("agreed");
    let snap = pair.b.snapshot();
    SyncState {
        params: pair.b.params().clone(),
        state,
        sigs: Some(sigs),
        chain_deposits: snap.chain_deposits,
        last_htlc_id: snap.last_htlc_id,
        payments: pair
            .b
            .ledger()
            .payments()
            .map(|(k, v)| (*k, v.clone()))
            .collect(),
    }
}

#[test]
fn a_synced_state_is_adopted_only_with_both_signatures() {
    let mut core = welcomed(true);
    let good = hub_sync();
    let id = good.params.channel_id();

    // The hub signs a state in the wallet's name: refused, nothing adopted.
    let mut forged = good.clone();
    let hub_sig = good.sigs.unwrap()[1];
    forged.sigs = Some([hub_sig, hub_sig]);
    let err = feed(&mut core, &Frame::SyncState(Box::new(forged))).unwrap_err();
    assert_eq!(err.code(), "BAD_SIGNATURE");
    assert!(core.channel(&id).is_none());
    assert!(core.resyncing());

    // A state both signed, but with balances that do not add up: refused.
    let mut bent = good.clone();
    bent.state.balances[0] += 1;
    assert!(feed(&mut core, &Frame::SyncState(Box::new(bent))).is_err());

    let out = feed(&mut core, &Frame::SyncState(Box::new(good.clone()))).unwrap();
    let ch = core.channel(&id).expect("adopted");
    assert_eq!(ch.latest(), &good.state);
    assert_eq!(ch.latest().balances, [70, 30]);
    assert!(!core.resyncing());
    assert!(out.iter().any(|o| matches!(
        o,
        ClientOutput::Event(ClientEvent::Restored { nonce, .. }) if *nonce == good.state.nonce
    )));
    assert!(out.iter().any(
        |o| matches!(o, ClientOutput::Persist { snapshot, .. } if snapshot.latest == good.state)
    ));
    assert!(sent(&out)
        .iter()
        .any(|f| matches!(f, Frame::Register { params } if params.channel_id() == id)));
}

#[test]
fn a_synced_state_older_than_ours_is_ignored() {
    let mut core = welcomed(true);
    let good = hub_sync();
    let id = good.params.channel_id();
    feed(&mut core, &Frame::SyncState(Box::new(good.clone()))).unwrap();
    let mut older = hub_sync();
    older.state = l2pay::ChannelState::initial();
    older.sigs = None;
    feed(&mut core, &Frame::SyncState(Box::new(older))).unwrap();
    assert_eq!(core.channel(&id).unwrap().latest(), &good.state);
}

fn invoice(amount: u128, expiry: u64, token: Address) -> l2pay::invoice::Invoice {
    let merchant = signer(9);
    InvoiceRequest {
        chain_id: 31337,
        amount,
        token,
        payment_hash: payment_hash(&B256::repeat_byte(1)),
        expiry,
        merchant: merchant.address(),
        hub_url: "http://127.0.0.1:9944".into(),
        description: "test".into(),
    }
    .sign(merchant.as_ref())
    .unwrap()
}

#[test]
fn payment_errors_leave_the_channel_unchanged() {
    let mut core = welcomed(true);
    let good = hub_sync();
    let id = good.params.channel_id();
    feed(&mut core, &Frame::SyncState(Box::new(good))).unwrap();
    while core.poll_output().is_some() {}
    let before = core.channel(&id).unwrap().snapshot().clone();
    let later = T0 / 1_000 + 3_600;

    let cases = [
        (invoice(71, later, Address::ZERO), "INVALID_UPDATE"),
        (invoice(1, T0 / 1_000 - 1, Address::ZERO), "INVALID_INVOICE"),
        (
            invoice(1, later, Address::repeat_byte(5)),
            "INVALID_INVOICE",
        ),
    ];
    for (inv, code) in cases {
        let err = core.pay(id, &inv, T0).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert_eq!(core.channel(&id).unwrap().snapshot(), &before);
        assert!(core.poll_output().is_none(), "nothing to send or store");
    }
    let unknown = B256::repeat_byte(3);
    let err = core
        .pay(unknown, &invoice(1, later, Address::ZERO), T0)
        .unwrap_err();
    assert_eq!(err.code(), "UNKNOWN_CHANNEL");

    let started = core
        .pay(id, &invoice(70, later, Address::ZERO), T0)
        .unwrap();
    assert_eq!(started.amount, 70);
    assert!(
        core.channel(&id).unwrap().pending().is_some() || !core.channel(&id).unwrap().is_idle()
    );
    assert_eq!(core.channel(&id).unwrap().me(), Side::A);

    // The same invoice again while its HTLC is in flight: refused, nothing more is sent.
    let before = core.channel(&id).unwrap().snapshot().clone();
    while core.poll_output().is_some() {}
    let err = core
        .pay(id, &invoice(70, later, Address::ZERO), T0)
        .unwrap_err();
    assert_eq!(err.code(), "PAYMENT_IN_FLIGHT", "{err}");
    assert_eq!(core.channel(&id).unwrap().snapshot(), &before);
    assert!(core.poll_output().is_none(), "nothing to send or store");
}

#[test]
fn an_invoice_this_wallet_already_paid_is_not_paid_again() {
    let mut core = welcomed(true);
    let good = hub_sync();
    let id = good.params.channel_id();
    feed(&mut core, &Frame::SyncState(Box::new(good))).unwrap();
    while core.poll_output().is_some() {}
    let before = core.channel(&id).unwrap().snapshot().clone();
    // `hub_sync`'s channel paid 30 under payment id 0x08…08: an invoice with that hash is paid.
    let mut inv = invoice(30, T0 / 1_000 + 3_600, Address::ZERO).request;
    inv.payment_hash = B256::repeat_byte(8);
    let inv = inv.sign(signer(9).as_ref()).unwrap();
    let err = core.pay(id, &inv, T0).unwrap_err();
    assert_eq!(err.code(), "ALREADY_PAID", "{err}");
    assert_eq!(core.channel(&id).unwrap().snapshot(), &before);
    assert!(core.poll_output().is_none(), "nothing to send or store");
}

#[test]
fn frames_a_hub_never_sends_are_refused() {
    let mut core = welcomed(false);
    let err = feed(
        &mut core,
        &Frame::Sync {
            channel_id: B256::ZERO,
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), "MALFORMED");
    let garbage = core.handle_frame(b"not a frame", T0).unwrap_err();
    assert_eq!(garbage.code(), "MALFORMED");
}
