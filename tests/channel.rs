//! The two-party update protocol: every transition and every rejection, persist-before-send,
//! concurrent proposals, resynchronisation.

mod common;

use alloy_primitives::B256;
use common::{drain, Pair};
use l2pay::channel::{Event, Output};
use l2pay::error::{Error, UpdateError};
use l2pay::op::{payment_hash, Op};
use l2pay::state::Side;
use l2pay::wire::{Message, RejectReason};

fn pid(n: u8) -> B256 {
    B256::repeat_byte(n)
}

fn pay(id: u8, amount: u128) -> Op {
    Op::Pay {
        payment_id: pid(id),
        amount,
    }
}

fn expiry(pair: &Pair) -> u64 {
    pair.now / 1_000 + 3_600
}

#[test]
fn deposits_are_recognised_by_agreed_updates() {
    let pair = Pair::funded([1_000, 500]);
    assert_eq!(pair.a.latest(), pair.b.latest());
    assert_eq!(pair.a.latest().balances, [1_000, 500]);
    assert_eq!(pair.a.latest().deposits, [1_000, 500]);
    assert_eq!(pair.a.latest().nonce, 2);
}

#[test]
fn pay_then_refund_round_trip() {
    let mut pair = Pair::funded([1_000, 0]);
    pair.a.propose(pay(1, 300), pair.now).unwrap();
    pair.run();
    assert_eq!(pair.b.latest().balances, [700, 300]);
    pair.b
        .propose(
            Op::Refund {
                payment_id: pid(1),
                amount: 100,
            },
            pair.now,
        )
        .unwrap();
    pair.run();
    assert_eq!(pair.a.latest().balances, [800, 200]);
    assert_eq!(pair.a.latest(), pair.b.latest());
    assert_eq!(pair.a.ledger().payment(&pid(1)).unwrap().refunded, 100);
    assert!(pair.events_b.iter().any(|e| matches!(
        e,
        Event::Updated {
            op: Op::Pay { .. },
            by: Side::A,
            ..
        }
    )));
}

#[test]
fn refunds_never_exceed_the_payment() {
    let mut pair = Pair::funded([1_000, 500]);
    pair.a.propose(pay(1, 300), pair.now).unwrap();
    pair.run();
    pair.b
        .propose(
            Op::Refund {
                payment_id: pid(1),
                amount: 200,
            },
            pair.now,
        )
        .unwrap();
    pair.run();
    let err = pair.b.propose(
        Op::Refund {
            payment_id: pid(1),
            amount: 101,
        },
        pair.now,
    );
    assert_eq!(
        err,
        Err(Error::Update(UpdateError::RefundExceedsPayment {
            remaining: 100,
            requested: 101
        }))
    );
    let err = pair.a.propose(
        Op::Refund {
            payment_id: pid(1),
            amount: 1,
        },
        pair.now,
    );
    assert_eq!(err, Err(Error::Update(UpdateError::NotPayee)));
    let err = pair.b.propose(
        Op::Refund {
            payment_id: pid(9),
            amount: 1,
        },
        pair.now,
    );
    assert_eq!(err, Err(Error::Update(UpdateError::UnknownPayment(pid(9)))));
}

#[test]
fn overspend_duplicate_and_zero_are_rejected_locally() {
    let mut pair = Pair::funded([100, 0]);
    let before = pair.a.latest().clone();
    assert_eq!(
        pair.a.propose(
            Op::Pay {
                payment_id: pid(1),
                amount: 101
            },
            pair.now
        ),
        Err(Error::Update(UpdateError::Overspend {
            available: 100,
            requested: 101
        }))
    );
    assert_eq!(
        pair.a.propose(
            Op::Pay {
                payment_id: pid(1),
                amount: 0
            },
            pair.now
        ),
        Err(Error::Update(UpdateError::ZeroAmount))
    );
    pair.a.propose(pay(1, 10), pair.now).unwrap();
    pair.run();
    assert_eq!(
        pair.a.propose(
            Op::Pay {
                payment_id: pid(1),
                amount: 10
            },
            pair.now
        ),
        Err(Error::Update(UpdateError::DuplicatePayment(pid(1))))
    );
    assert_eq!(pair.a.latest().nonce, before.nonce + 1);
}

/// A dishonest peer proposing an overspend gets a Reject and the receiver's state is unchanged.
#[test]
fn peer_overspend_is_rejected_with_state_unchanged() {
    let mut pair = Pair::funded([100, 50]);
    // B proposes honestly, then we tamper with the amount in flight.
    pair.b.propose(pay(1, 10), pair.now).unwrap();
    let mut msgs = drain(&mut pair.b, &mut vec![]);
    let Message::Propose(mut p) = msgs.remove(0) else {
        panic!("expected a proposal")
    };
    p.op = pay(1, 51);
    let before = pair.a.snapshot().clone();
    let err = pair
        .a
        .handle_message(Message::Propose(p.clone()), pair.now)
        .unwrap_err();
    assert_eq!(
        err,
        Error::Update(UpdateError::Overspend {
            available: 50,
            requested: 51
        })
    );
    assert!(!err.requires_chain());
    assert_eq!(pair.a.snapshot(), &before);
    let replies = drain(&mut pair.a, &mut vec![]);
    assert!(
        matches!(&replies[..], [Message::Reject(r)] if matches!(r.reason, RejectReason::Invalid(_)))
    );

    // Same amount, forged signature: rejected as a bad signature, nothing changes.
    p.op = pay(1, 11);
    let err = pair
        .a
        .handle_message(Message::Propose(p), pair.now)
        .unwrap_err();
    assert!(matches!(err, Error::Signature(_)), "{err:?}");
    assert_eq!(pair.a.snapshot(), &before);
}

#[test]
fn replayed_and_foreign_messages_are_refused() {
    let mut pair = Pair::funded([100, 0]);
    pair.a.propose(pay(1, 10), pair.now).unwrap();
    let log = pair.run();
    pair.a.propose(pay(2, 10), pair.now).unwrap();
    pair.run();
    let before = pair.b.snapshot().clone();
    let old = log
        .iter()
        .find(|m| matches!(m, Message::Propose(_)))
        .unwrap()
        .clone();
    let err = pair.b.handle_message(old, pair.now).unwrap_err();
    assert!(matches!(err, Error::StaleNonce { .. }), "{err:?}");
    assert_eq!(pair.b.snapshot(), &before);

    let mut foreign = log[0].clone();
    if let Message::Propose(p) = &mut foreign {
        p.channel_id = pid(0xee);
    }
    assert_eq!(
        pair.b.handle_message(foreign, pair.now),
        Err(Error::UnknownChannel(pid(0xee)))
    );
}

/// A duplicate of the proposal we last countersigned is answered again, idempotently.
#[test]
fn duplicate_proposal_is_answered_again() {
    let mut pair = Pair::funded([100, 0]);
    pair.a.propose(pay(1, 10), pair.now).unwrap();
    let msgs = drain(&mut pair.a, &mut vec![]);
    pair.b.handle_message(msgs[0].clone(), pair.now).unwrap();
    let first = drain(&mut pair.b, &mut vec![]);
    pair.b.handle_message(msgs[0].clone(), pair.now).unwrap();
    let second = drain(&mut pair.b, &mut vec![]);
    assert_eq!(first, second);
}

#[test]
fn htlc_add_settle_with_preimage() {
    let mut pair = Pair::funded([1_000, 0]);
    let preimage = pid(42);
    let hash = payment_hash(&preimage);
    let exp = expiry(&pair);
    pair.a
        .propose(
            Op::AddHtlc {
                id: 1,
                amount: 250,
                payment_hash: hash,
                expiry: exp,
            },
            pair.now,
        )
        .unwrap();
    pair.run();
    assert_eq!(pair.b.latest().balances, [750, 0]);
    assert_eq!(pair.b.latest().locked(), 250);
    assert_eq!(
        pair.b.propose(
            Op::SettleHtlc {
                id: 1,
                preimage: pid(43)
            },
            pair.now
        ),
        Err(Error::Update(UpdateError::WrongPreimage))
    );
    assert_eq!(
        pair.a.propose(Op::SettleHtlc { id: 1, preimage }, pair.now),
        Err(Error::Update(UpdateError::NotHtlcReceiver))
    );
    pair.b
        .propose(Op::SettleHtlc { id: 1, preimage }, pair.now)
        .unwrap();
    pair.run();
    assert_eq!(pair.a.latest().balances, [750, 250]);
    assert!(pair.a.latest().htlcs.is_empty());
    // A settled HTLC is a refundable payment keyed by its hash.
    pair.b
        .propose(
            Op::Refund {
                payment_id: hash,
                amount: 250,
            },
            pair.now,
        )
        .unwrap();
    pair.run();
    assert_eq!(pair.a.latest().balances, [1_000, 0]);
}

#[test]
fn htlc_fail_and_expiry() {
    let mut pair = Pair::funded([1_000, 0]);
    let exp = expiry(&pair);
    let hash = payment_hash(&pid(1));
    pair.a
        .propose(
            Op::AddHtlc {
                id: 1,
                amount: 100,
                payment_hash: hash,
                expiry: exp,
            },
            pair.now,
        )
        .unwrap();
    pair.a
        .propose(
            Op::AddHtlc {
                id: 2,
                amount: 100,
                payment_hash: hash,
                expiry: exp,
            },
            pair.now,
        )
        .unwrap();
    pair.run();
    assert_eq!(
        pair.a.propose(
            Op::AddHtlc {
                id: 2,
                amount: 1,
                payment_hash: hash,
                expiry: exp
            },
            pair.now
        ),
        Err(Error::Update(UpdateError::HtlcIdReused { id: 2, last: 2 }))
    );
    let soon = pair.now / 1_000 + 10;
    assert!(matches!(
        pair.a.propose(
            Op::AddHtlc {
                id: 3,
                amount: 1,
                payment_hash: hash,
                expiry: soon
            },
            pair.now
        ),
        Err(Error::Update(UpdateError::ExpiryTooSoon { .. }))
    ));
    pair.b.propose(Op::FailHtlc { id: 1 }, pair.now).unwrap();
    pair.run();
    assert_eq!(pair.a.latest().balances, [900, 0]);
    assert_eq!(
        pair.a.propose(Op::ExpireHtlc { id: 2 }, pair.now),
        Err(Error::Update(UpdateError::HtlcNotExpired { expiry: exp }))
    );
    // At expiry the sender's core expires the HTLC by itself from its timer.
    pair.now = exp * 1_000;
    assert!(pair.a.poll_timeout().unwrap() <= pair.now);
    pair.a.handle_timeout(pair.now);
    pair.run();
    assert_eq!(pair.b.latest().balances, [1_000, 0]);
    assert_eq!(
        pair.b.propose(
            Op::SettleHtlc {
                id: 2,
                preimage: pid(1)
            },
            pair.now
        ),
        Err(Error::Update(UpdateError::UnknownHtlc { id: 2 }))
    );
}

#[test]
fn withdraw_and_cooperative_close() {
    let mut pair = Pair::funded([1_000, 200]);
    pair.b
        .propose(Op::Withdraw { amount: 150 }, pair.now)
        .unwrap();
    pair.run();
    let s = pair.a.latest().clone();
    assert_eq!((s.balances, s.withdrawn), ([1_000, 50], [0, 150]));
    let (state, sigs) = pair.a.signed_latest().unwrap();
    let digest = state.digest(pair.a.params());
    sigs[0]
        .verify(&digest, pair.a.params().participants[0])
        .unwrap();
    sigs[1]
        .verify(&digest, pair.a.params().participants[1])
        .unwrap();

    pair.a
        .propose(
            Op::AddHtlc {
                id: 1,
                amount: 1,
                payment_hash: pid(5),
                expiry: expiry(&pair),
            },
            pair.now,
        )
        .unwrap();
    pair.run();
    assert_eq!(
        pair.a.propose(Op::Close, pair.now),
        Err(Error::Update(UpdateError::HtlcsPending))
    );
    pair.b.propose(Op::FailHtlc { id: 1 }, pair.now).unwrap();
    pair.run();
    pair.a.propose(Op::Close, pair.now).unwrap();
    pair.run();
    assert!(pair.b.latest().is_final);
    assert_eq!(
        pair.b.propose(
            Op::Pay {
                payment_id: pid(1),
                amount: 1
            },
            pair.now
        ),
        Err(Error::Update(UpdateError::ChannelFinal))
    );
}

#[test]
fn deposit_must_be_seen_on_chain_by_the_validator() {
    let mut pair = Pair::funded([100, 0]);
    pair.a.handle_chain_deposit(Side::A, 300, pair.now);
    pair.run();
    // B has not seen the top-up yet: it rejects A's recognition, state unchanged, and A
    // retries after its retransmission interval instead of giving up.
    assert_eq!(pair.b.latest().deposits, [100, 0]);
    assert!(!pair.a.is_idle());
    pair.b.handle_chain_deposit(Side::A, 300, pair.now);
    pair.now = pair.a.poll_timeout().unwrap();
    pair.a.handle_timeout(pair.now);
    pair.run();
    assert!(pair.a.is_idle());
    assert_eq!(pair.b.latest().balances, [300, 0]);
}

/// The proposer sends its proposal twice (a retransmission, or again in answer to the peer's
/// `Reestablish`). The peer refuses the first copy because it has not seen the deposit yet,
/// sees it, and accepts the second copy. The refusal must not make the proposer drop the
/// proposal: the acceptance that follows is for that very state, and both sides must agree it
/// (before the fix, A re-proposed at nonce 2 on base 0, B answered `OutOfSync`, and the channel
/// stalled with B at nonce 1 and A at nonce 0).
#[test]
fn a_late_accept_after_a_transient_reject_is_adopted() {
    let mut pair = Pair::funded([0, 0]);
    pair.a.handle_chain_deposit(Side::A, 300, pair.now);
    let first = drain(&mut pair.a, &mut pair.events_a);
    assert!(matches!(&first[..], [Message::Propose(p)] if p.nonce == 1));
    // Unanswered so far: A sends the same signed proposal again.
    pair.now = pair.a.poll_timeout().unwrap();
    pair.a.handle_timeout(pair.now);
    let second = drain(&mut pair.a, &mut pair.events_a);
    assert_eq!(first, second);
    // B refuses the first copy, sees the deposit on chain, accepts the second copy.
    let err = pair
        .b
        .handle_message(first[0].clone(), pair.now)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Update(UpdateError::DepositNotSeen { .. })
    ));
    let reject = drain(&mut pair.b, &mut pair.events_b);
    pair.b.handle_chain_deposit(Side::A, 300, pair.now);
    pair.b.handle_message(second[0].clone(), pair.now).unwrap();
    let accept = drain(&mut pair.b, &mut pair.events_b);
    assert!(matches!(&accept[..], [Message::Accept(a)] if a.nonce == 1));
    assert_eq!(pair.b.latest().deposits, [300, 0]);
    // A gets the refusal, then the acceptance of the same state.
    for m in reject.into_iter().chain(accept) {
        pair.a.handle_message(m, pair.now).unwrap();
    }
    pair.run();
    while let Some(t) = pair.a.poll_timeout() {
        pair.now = pair.now.max(t);
        pair.a.handle_timeout(pair.now);
        pair.run();
        if pair.a.is_idle() {
            break;
        }
    }
    assert_eq!(pair.a.latest(), pair.b.latest());
    assert_eq!(pair.a.latest().nonce, 1);
    assert_eq!(pair.a.latest().balances, [300, 0]);
    assert!(pair.a.is_idle() && pair.b.is_idle());
    assert!(!pair
        .events_a
        .iter()
        .any(|e| matches!(e, Event::ProposalRejected { .. })));
}

/// Both sides propose on the same state at the same moment: A's op goes first, B's follows,
/// neither side signs two states with one nonce, and both end on the same state.
#[test]
fn simultaneous_proposals_resolve_deterministically() {
    let mut pair = Pair::funded([1_000, 1_000]);
    pair.a.propose(pay(1, 10), pair.now).unwrap();
    pair.b.propose(pay(2, 20), pair.now).unwrap();
    let log = pair.run();
    assert_eq!(pair.a.latest(), pair.b.latest());
    assert_eq!(pair.a.latest().balances, [1_010, 990]);
    assert!(pair.a.is_idle() && pair.b.is_idle());
    let a_first = pair
        .events_b
        .iter()
        .position(|e| matches!(e, Event::Updated { by: Side::A, .. }))
        .unwrap();
    let b_after = pair
        .events_b
        .iter()
        .position(|e| matches!(e, Event::Updated { by: Side::B, .. }))
        .unwrap();
    assert!(a_first < b_after, "A's op is agreed first");
    // The collision was detected and resolved by a Conflict rejection, not by double-signing.
    assert!(log
        .iter()
        .any(|m| matches!(m, Message::Reject(r) if r.reason == RejectReason::Conflict)));
}

/// The core releases nothing that depends on a write the driver has not confirmed.
#[test]
fn messages_wait_for_durable_writes() {
    let mut pair = Pair::funded([100, 0]);
    pair.a.propose(pay(1, 10), pair.now).unwrap();
    let mut seqs = vec![];
    while let Some(o) = pair.a.poll_output() {
        match o {
            Output::Persist(p) => seqs.push(p.seq),
            Output::Send(_) => panic!("sent before the write was durable"),
            Output::Event(_) => {}
        }
    }
    assert_eq!(seqs.len(), 1);
    pair.a.handle_persisted(seqs[0]);
    assert!(matches!(
        pair.a.poll_output(),
        Some(Output::Send(Message::Propose(_)))
    ));
}

/// The proposer lost the Accept (crash, dropped link): on reconnect it learns the agreed state.
#[test]
fn reestablish_recovers_a_lost_accept() {
    let mut pair = Pair::funded([100, 0]);
    pair.a.propose(pay(1, 10), pair.now).unwrap();
    let to_b = drain(&mut pair.a, &mut vec![]);
    pair.b.handle_message(to_b[0].clone(), pair.now).unwrap();
    let lost = drain(&mut pair.b, &mut vec![]);
    assert!(matches!(lost[0], Message::Accept(_)));
    assert_eq!(pair.a.latest().nonce + 1, pair.b.latest().nonce);
    pair.a.handle_disconnected();
    pair.b.handle_disconnected();
    pair.a.handle_connected(pair.now);
    pair.b.handle_connected(pair.now);
    pair.run();
    assert_eq!(pair.a.latest(), pair.b.latest());
    assert!(pair.a.is_idle());
}

#[test]
fn unanswered_proposal_is_retransmitted() {
    let mut pair = Pair::funded([100, 0]);
    pair.a.propose(pay(1, 10), pair.now).unwrap();
    let first = drain(&mut pair.a, &mut vec![]);
    let deadline = pair.a.poll_timeout().unwrap();
    pair.now = deadline;
    pair.a.handle_timeout(pair.now);
    let again = drain(&mut pair.a, &mut vec![]);
    assert_eq!(first, again, "the same signed bytes, never a new state");
    pair.run();
}

/// Once the chain shows a close, the channel refuses every update but still hands out its
/// latest doubly-signed state for the dispute.
#[test]
fn a_close_on_chain_freezes_the_channel() {
    let mut pair = Pair::funded([100, 0]);
    pair.a.propose(pay(1, 10), pair.now).unwrap();
    pair.run();
    pair.b.handle_chain_closing();
    pair.a.propose(pay(2, 10), pair.now).unwrap();
    let msgs = drain(&mut pair.a, &mut vec![]);
    let err = pair
        .b
        .handle_message(msgs[0].clone(), pair.now)
        .unwrap_err();
    assert!(matches!(err, Error::Failed(_)), "{err:?}");
    assert!(pair.b.propose(Op::Close, pair.now).is_err());
    assert_eq!(pair.b.poll_timeout(), None);
    let (state, _) = pair.b.signed_latest().unwrap();
    assert_eq!(state.balances, [90, 10]);
}
