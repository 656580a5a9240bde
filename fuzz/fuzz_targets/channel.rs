//! Drives an honest channel with an adversary that holds the peer's valid key (a fixed test
//! key) and sends correctly signed messages: the input, read with `arbitrary`, is the honest
//! side, the deposits and a sequence of adversarial actions (proposals at any nonce on any base
//! with any op and amounts, acceptances, rejections, reestablishments, replays, honest
//! proposals, virtual time, reconnections and chain deposits). After every action the checks
//! of `tests/common/adversary.rs` run (the same driver as `tests/adversary.rs`): no panic, the
//! balance invariant, strictly increasing agreed nonces, never two states signed at one nonce,
//! no value moved except as the signed ops say, refused inputs change nothing; at the end an
//! honest peer must still get an op of the honest side agreed.

#![no_main]

#[path = "../../tests/common/adversary.rs"]
mod adversary;

use adversary::{Action, Base, Duel, Expiry, HtlcRef, Nonce, Num, OpSpec, Sig};
use l2pay::state::Side;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Most actions per input: bounds the time one input takes (each costs a few signatures).
const MAX_ACTIONS: usize = 64;

fn num(u: &mut Unstructured) -> Result<Num> {
    Ok(match u.int_in_range(0u8..=4)? {
        0 => Num::Exact(u128::from(u.arbitrary::<u16>()?)),
        1 => Num::Mine(u.arbitrary()?),
        2 => Num::Theirs(u.arbitrary()?),
        3 => Num::FromTop(u.arbitrary()?),
        _ => Num::Exact(u.arbitrary()?),
    })
}

fn nonce(u: &mut Unstructured) -> Result<Nonce> {
    Ok(match u.int_in_range(0u8..=4)? {
        0 => Nonce::Latest(u.int_in_range(0..=3)?),
        1 => Nonce::AboveSigned(u.int_in_range(0..=3)?),
        2 => Nonce::Pending,
        3 => Nonce::FromTop(u.arbitrary()?),
        _ => Nonce::Exact(u.arbitrary()?),
    })
}

fn htlc(u: &mut Unstructured) -> Result<HtlcRef> {
    Ok(match u.int_in_range(0u8..=4)? {
        0 => HtlcRef::Next,
        1 => HtlcRef::Own(u.arbitrary()?),
        2 => HtlcRef::Theirs(u.arbitrary()?),
        3 => HtlcRef::FromTop(u.arbitrary()?),
        _ => HtlcRef::Exact(u.arbitrary()?),
    })
}

fn expiry(u: &mut Unstructured) -> Result<Expiry> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => Expiry::In(i32::from(u.arbitrary::<i16>()?) + 2_000),
        1 => Expiry::In(u.arbitrary()?),
        2 => Expiry::FromTop(u.arbitrary()?),
        _ => Expiry::Exact(u.arbitrary()?),
    })
}

fn op(u: &mut Unstructured) -> Result<OpSpec> {
    Ok(match u.int_in_range(0u8..=8)? {
        0 => OpSpec::Pay {
            id: u.arbitrary()?,
            amount: num(u)?,
        },
        1 => OpSpec::Refund {
            id: u.arbitrary()?,
            amount: num(u)?,
        },
        2 => OpSpec::AddHtlc {
            id: htlc(u)?,
            amount: num(u)?,
            hash: u.arbitrary()?,
            expiry: expiry(u)?,
        },
        3 => OpSpec::Settle {
            id: htlc(u)?,
            preimage: u.arbitrary()?,
        },
        4 => OpSpec::Fail { id: htlc(u)? },
        5 => OpSpec::Expire { id: htlc(u)? },
        6 => OpSpec::Deposit {
            mine: u.arbitrary()?,
            total: num(u)?,
        },
        7 => OpSpec::Withdraw { amount: num(u)? },
        _ => OpSpec::Close,
    })
}

fn sig(u: &mut Unstructured) -> Result<Sig> {
    Ok(match u.int_in_range(0u8..=5)? {
        4 => Sig::Steal,
        5 => Sig::Absent,
        _ => Sig::Valid,
    })
}

fn base(u: &mut Unstructured) -> Result<Base> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 | 1 => Base::Latest,
        2 => Base::Pending,
        _ => Base::Exact(nonce(u)?),
    })
}

fn action(u: &mut Unstructured) -> Result<Action> {
    Ok(match u.int_in_range(0u8..=9)? {
        0..=2 => Action::Propose {
            op: op(u)?,
            nonce: if u.arbitrary()? {
                Nonce::AboveSigned(1)
            } else {
                nonce(u)?
            },
            base: base(u)?,
            sig: sig(u)?,
            base_sig: sig(u)?,
        },
        3 => Action::Accept {
            nonce: nonce(u)?,
            sig: sig(u)?,
        },
        4 => Action::Reject {
            nonce: nonce(u)?,
            reason: u.arbitrary()?,
            highest_signed: nonce(u)?,
        },
        5 => Action::Reestablish {
            nonce: nonce(u)?,
            sig: sig(u)?,
            highest_signed: nonce(u)?,
        },
        6 => Action::Replay(u.arbitrary()?),
        7 => Action::Honest(op(u)?),
        8 => Action::Tick(u.arbitrary()?),
        _ => match u.int_in_range(0u8..=1)? {
            0 => Action::Reconnect,
            _ => Action::ChainDeposit {
                adversary: u.arbitrary()?,
                add: num(u)?,
            },
        },
    })
}

fn deposit(u: &mut Unstructured) -> Result<u128> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => 0,
        1 => u128::from(u.arbitrary::<u16>()?),
        2 => 1_000_000_000_000_000_000,
        _ => u.arbitrary::<u128>()? / 2,
    })
}

fn input(u: &mut Unstructured) -> Result<(Side, [u128; 2], Vec<Action>)> {
    let honest = if u.arbitrary()? { Side::A } else { Side::B };
    let deposits = [deposit(u)?, deposit(u)?];
    let mut actions = vec![];
    while !u.is_empty() && actions.len() < MAX_ACTIONS {
        actions.push(action(u)?);
    }
    Ok((honest, deposits, actions))
}

fuzz_target!(|data: &[u8]| {
    let Ok((honest, deposits, actions)) = input(&mut Unstructured::new(data)) else {
        return;
    };
    let mut duel = Duel::new(honest, deposits);
    for a in &actions {
        duel.step(a);
    }
    duel.check_live();
});
