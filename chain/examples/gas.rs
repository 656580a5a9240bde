//! Gas used by each adjudicator operation on anvil, as a Markdown table.
//!
//! `cargo run -p l2pay-chain --example gas` (output kept in `chain/GAS.md`).

use std::sync::Arc;

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::TransactionReceipt;
use l2pay::op::payment_hash;
use l2pay::{ChannelParams, ChannelState, Htlc, LocalSigner, Side, Signature, Signer};
use l2pay_chain::bindings::TestToken;
use l2pay_chain::{deploy_test_token, send, AdjudicatorClient, ChainError, Devnet};

const ETH: u128 = 1_000_000_000_000_000_000;

struct Table(Vec<(String, u64)>);

impl Table {
    fn add(&mut self, what: &str, r: &TransactionReceipt) {
        self.0.push((what.to_string(), r.gas_used));
    }
}

struct Parties {
    alice: Arc<LocalSigner>,
    bob: Arc<LocalSigner>,
    a: AdjudicatorClient,
    b: AdjudicatorClient,
    chain_id: u64,
    adjudicator: Address,
}

impl Parties {
    fn params(&self, token: Address, salt: u8) -> ChannelParams {
        ChannelParams {
            chain_id: self.chain_id,
            adjudicator: self.adjudicator,
            participants: [self.alice.address(), self.bob.address()],
            token,
            challenge_period: 3_600,
            salt: B256::repeat_byte(salt),
        }
    }

    fn sign(&self, p: &ChannelParams, s: &ChannelState) -> [Signature; 2] {
        let d = s.digest(p);
        [self.alice.sign_digest(&d), self.bob.sign_digest(&d)]
    }
}

fn state(
    nonce: u64,
    balances: [u128; 2],
    deposits: [u128; 2],
    withdrawn: [u128; 2],
) -> ChannelState {
    ChannelState {
        nonce,
        balances,
        deposits,
        withdrawn,
        htlcs: vec![],
        is_final: false,
    }
}

#[tokio::main]
async fn main() -> Result<(), ChainError> {
    let net = Devnet::spawn().await?;
    let mut t = Table(vec![]);

    let deployer = net.wallet(0);
    let r = l2pay_chain::bindings::Adjudicator::deploy_builder(deployer.clone())
        .send()
        .await?
        .get_receipt()
        .await?;
    t.add("deploy Adjudicator", &r);
    let adjudicator = r.contract_address.expect("deployed");
    let token = deploy_test_token(&deployer).await?;
    let tk = TestToken::new(token, deployer.clone());
    let p = Parties {
        alice: Arc::new(net.signer(1)),
        bob: Arc::new(net.signer(2)),
        a: AdjudicatorClient::new(adjudicator, net.wallet(1)),
        b: AdjudicatorClient::new(adjudicator, net.wallet(2)),
        chain_id: net.chain_id(),
        adjudicator,
    };
    let watchtower = AdjudicatorClient::new(adjudicator, net.wallet(3));
    // Funds Alice's side of the `openFor` channels; Alice's key only signs.
    let funder = AdjudicatorClient::new(adjudicator, net.wallet(4));
    for who in [p.alice.address(), p.bob.address(), net.address(4)] {
        send(tk.mint(who, U256::from(1_000_000_000_000u64))).await?;
    }
    p.a.approve(token, u128::MAX).await?;
    p.b.approve(token, u128::MAX).await?;
    funder.approve(token, u128::MAX).await?;

    // Native coin: open, top-ups, withdrawal, cooperative close.
    let n = p.params(Address::ZERO, 1);
    t.add("open (native, A funds)", &p.a.open(&n, 10 * ETH).await?);
    t.add(
        "deposit (native, B's first top-up)",
        &p.b.deposit(&n, 5 * ETH).await?,
    );
    t.add(
        "deposit (native, A's second top-up)",
        &p.a.deposit(&n, ETH).await?,
    );
    let s = state(3, [9 * ETH, 4 * ETH], [11 * ETH, 5 * ETH], [2 * ETH, ETH]);
    t.add(
        "withdraw (pays both sides, native)",
        &p.a.withdraw(&n, &s, &p.sign(&n, &s)).await?,
    );
    let s = state(4, [8 * ETH, 4 * ETH], [11 * ETH, 5 * ETH], [3 * ETH, ETH]);
    t.add(
        "withdraw (pays one side, native)",
        &p.a.withdraw(&n, &s, &p.sign(&n, &s)).await?,
    );
    let mut fin = state(5, [7 * ETH, 5 * ETH], [11 * ETH, 5 * ETH], [3 * ETH, ETH]);
    fin.is_final = true;
    t.add(
        "closeCooperative (native)",
        &p.b.close_cooperative(&n, &fin, &p.sign(&n, &fin)).await?,
    );

    // ERC-20: the same operations.
    let e = p.params(token, 2);
    t.add("open (ERC-20, A funds)", &p.a.open(&e, 10_000_000).await?);
    t.add(
        "deposit (ERC-20, B's first top-up)",
        &p.b.deposit(&e, 5_000_000).await?,
    );
    let s = state(
        2,
        [9_000_000, 4_000_000],
        [10_000_000, 5_000_000],
        [1_000_000, 1_000_000],
    );
    t.add(
        "withdraw (pays both sides, ERC-20)",
        &p.a.withdraw(&e, &s, &p.sign(&e, &s)).await?,
    );
    let mut fin = state(
        3,
        [8_000_000, 5_000_000],
        [10_000_000, 5_000_000],
        [1_000_000, 1_000_000],
    );
    fin.is_final = true;
    t.add(
        "closeCooperative (ERC-20)",
        &p.b.close_cooperative(&e, &fin, &p.sign(&e, &fin)).await?,
    );

    // Funder ≠ signer: account 4 opens for Alice and tops her side up; A's payouts go to it.
    let f = p.params(Address::ZERO, 6);
    t.add(
        "openFor (native, funder ≠ A)",
        &funder.open_for(&f, 10 * ETH).await?,
    );
    p.b.deposit(&f, 5 * ETH).await?;
    t.add(
        "depositFor (native, funder tops up A)",
        &funder.deposit_for(&f, p.alice.address(), ETH).await?,
    );
    let s = state(3, [9 * ETH, 4 * ETH], [11 * ETH, 5 * ETH], [2 * ETH, ETH]);
    t.add(
        "withdraw (pays both sides, native, A's to funder)",
        &p.b.withdraw(&f, &s, &p.sign(&f, &s)).await?,
    );
    let mut fin = state(4, [8 * ETH, 5 * ETH], [11 * ETH, 5 * ETH], [2 * ETH, ETH]);
    fin.is_final = true;
    t.add(
        "closeCooperative (native, A's share to funder)",
        &p.b.close_cooperative(&f, &fin, &p.sign(&f, &fin)).await?,
    );
    let fe = p.params(token, 7);
    t.add(
        "openFor (ERC-20, funder ≠ A)",
        &funder.open_for(&fe, 10_000_000).await?,
    );
    t.add(
        "depositFor (ERC-20, funder tops up A)",
        &funder
            .deposit_for(&fe, p.alice.address(), 1_000_000)
            .await?,
    );

    // Unilateral close without locks: register, challenge, settle.
    let u = p.params(Address::ZERO, 3);
    p.a.open(&u, 10 * ETH).await?;
    p.b.deposit(&u, 5 * ETH).await?;
    let s1 = state(1, [10 * ETH, 5 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    let s2 = state(2, [8 * ETH, 7 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    t.add(
        "closeUnilateral (no locks)",
        &p.a.close_unilateral(&u, &s1, &p.sign(&u, &s1)).await?,
    );
    t.add(
        "challenge (no locks)",
        &watchtower.challenge(&u, &s2, &p.sign(&u, &s2)).await?,
    );
    net.advance(3_601).await?;
    t.add(
        "settle (no locks, native)",
        &watchtower.settle(&u, &s2).await?,
    );

    // Unilateral close without any signed state.
    let z = p.params(Address::ZERO, 4);
    p.a.open(&z, ETH).await?;
    t.add(
        "closeWithoutState",
        &p.a.close_without_state(z.channel_id()).await?,
    );
    net.advance(3_601).await?;
    t.add(
        "settle (nonce-0 state)",
        &watchtower.settle(&z, &ChannelState::initial()).await?,
    );

    // Unilateral close with HTLCs, then claims.
    let h = p.params(Address::ZERO, 5);
    p.a.open(&h, 10 * ETH).await?;
    let expiry = net.now().await? + 7_200;
    let preimages: Vec<B256> = (1..=3).map(B256::repeat_byte).collect();
    let mk = |n: u64| {
        let mut s = state(n, [10 * ETH - n as u128 * ETH, 0], [10 * ETH, 0], [0, 0]);
        s.htlcs = (0..n)
            .map(|i| Htlc {
                id: i + 1,
                from: Side::A,
                amount: ETH,
                payment_hash: payment_hash(&preimages[i as usize]),
                expiry,
            })
            .collect();
        s
    };
    let s1 = mk(1);
    let s3 = mk(3);
    t.add(
        "closeUnilateral (1 lock)",
        &p.b.close_unilateral(&h, &s1, &p.sign(&h, &s1)).await?,
    );
    t.add(
        "challenge (3 locks)",
        &p.b.challenge(&h, &s3, &p.sign(&h, &s3)).await?,
    );
    net.advance(3_601).await?;
    t.add(
        "settle (3 locks, native)",
        &watchtower.settle(&h, &s3).await?,
    );
    t.add("revealPreimage", &p.b.reveal_preimage(preimages[0]).await?);
    t.add(
        "claimHtlc (already revealed)",
        &watchtower.claim_htlc(h.channel_id(), 0, None).await?,
    );
    t.add(
        "claimHtlc (reveals the preimage)",
        &watchtower
            .claim_htlc(h.channel_id(), 1, Some(preimages[1]))
            .await?,
    );
    net.advance(7_200).await?;
    t.add(
        "claimHtlc (expired, back to sender)",
        &watchtower.claim_htlc(h.channel_id(), 2, None).await?,
    );

    println!("| operation | gas used |");
    println!("|---|---:|");
    for (what, gas) in &t.0 {
        println!("| {what} | {} |", group(*gas));
    }
    println!();
    println!(
        "Measured on anvil (`cargo run -p l2pay-chain --example gas`); Adjudicator compiled by \
         solc-js 0.8.37, optimizer 200 runs, evmVersion cancun. Gas includes the 21,000 base \
         and calldata. Storage writes dominate: the first deposit of a side and the first \
         withdrawal write fresh slots; later ones are cheaper."
    );
    Ok(())
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
