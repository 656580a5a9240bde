//! The watchtower proper: each poll, every watched channel is read from the chain and the
//! hub acts on what it finds there (see the module docs of [`super`]). Transactions go through
//! [`Txs`], which sends each at most once at a time and again until it is final.

use std::collections::BTreeSet;

use alloy::primitives::B256;
use alloy::rpc::types::TransactionRequest;
use l2pay::eip712::{self, locks_root};
use l2pay::state::Side;
use l2pay::ChannelState;
use l2pay_chain::{AdjudicatorClient, Status};

use super::txs::{Action, Sent, Txs};
use super::{WatchSet, Watched, Watcher};
use crate::actor::{Command, SignedLatest};

/// The chain head a round acts at.
#[derive(Clone, Copy, Debug)]
pub struct Head {
    pub number: u64,
    /// Its timestamp: the contract's `block.timestamp` is at least this for the next block.
    pub time: u64,
}

pub enum Step {
    Keep,
    Changed,
    Done,
}

impl Watcher {
    /// Closes on chain every channel of `ids` (those the actor must take there); `true` if
    /// the watched set changed. A failed transaction is tried again next poll.
    pub(super) async fn go_to_chain(
        &self,
        chain: &AdjudicatorClient,
        txs: &mut Txs,
        watched: &mut WatchSet,
        head: Head,
        ids: Vec<B256>,
    ) -> bool {
        let mut changed = false;
        for id in ids {
            if watched.contains_key(&id) {
                continue;
            }
            match self.close(chain, txs, id, head).await {
                Ok(Some(w)) => {
                    watched.insert(id, w);
                    changed = true;
                    // Frozen from now on; the watchtower follows the close to settlement.
                    let _ = self
                        .actor
                        .send(Command::ChainClosing { channel_id: id })
                        .await;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "close failed; retrying next poll")
                }
            }
        }
        changed
    }

    /// Starts the unilateral close of one channel; the watch record to follow it with, or
    /// `None` when there is nothing on chain to close.
    async fn close(
        &self,
        chain: &AdjudicatorClient,
        txs: &mut Txs,
        id: B256,
        head: Head,
    ) -> anyhow::Result<Option<Watched>> {
        let info = chain.channel(id).await?;
        match Status::of(&info) {
            Status::None => {
                tracing::warn!(channel = %id, "must go to chain, but it was never opened there");
                // Nothing to close: freeze it all the same.
                let _ = self
                    .actor
                    .send(Command::ChainClosing { channel_id: id })
                    .await;
                Ok(None)
            }
            // Closed by someone else meanwhile: follow that close.
            Status::Closing | Status::Closed => Ok(Some(Watched::default())),
            Status::Open => {
                let mut w = Watched {
                    initiated: true,
                    ..Watched::default()
                };
                self.send_close(chain, txs, id, &mut w, head).await?;
                Ok(Some(w))
            }
        }
    }

    /// Sends (or follows) the hub's own close of an open channel: `closeUnilateral` with its
    /// latest doubly-signed state, or `closeWithoutState` when nothing was signed yet.
    async fn send_close(
        &self,
        chain: &AdjudicatorClient,
        txs: &mut Txs,
        id: B256,
        w: &mut Watched,
        head: Head,
    ) -> anyhow::Result<()> {
        let (tx, nonce) = match self.signed(id).await? {
            Some(s) => {
                let tx = chain.close_unilateral_tx(&s.params, &s.state, &s.sigs);
                let nonce = s.state.nonce;
                w.submitted = Some(s.state);
                (tx, Some(nonce))
            }
            None => (chain.close_without_state_tx(id), None),
        };
        if let Sent::New(hash) | Sent::Again(hash) = txs
            .want(chain, (id, Action::Close), tx, head.number)
            .await?
        {
            match nonce {
                Some(nonce) => {
                    tracing::warn!(channel = %id, nonce, tx = %hash, "closing on chain with the hub's latest state")
                }
                None => {
                    tracing::warn!(channel = %id, tx = %hash, "closing on chain without a signed state (deposits go back)")
                }
            }
        }
        Ok(())
    }

    /// One watchtower round over every watched channel; `true` if the watched set changed.
    pub(super) async fn guard(
        &self,
        chain: &AdjudicatorClient,
        txs: &mut Txs,
        watched: &mut WatchSet,
        head: Head,
    ) -> bool {
        let mut changed = false;
        let mut guarded = BTreeSet::new();
        let ids: Vec<B256> = watched.keys().copied().collect();
        for id in ids {
            let Some(w) = watched.get_mut(&id) else {
                continue;
            };
            match self.guard_one(chain, txs, id, w, head).await {
                Ok(step) => {
                    guarded.insert(id);
                    match step {
                        Step::Keep => {}
                        Step::Changed => changed = true,
                        Step::Done => {
                            tracing::info!(channel = %id, "watchtower done with channel");
                            watched.remove(&id);
                            changed = true;
                        }
                    }
                }
                Err(e) => tracing::warn!(channel = %id, error = %e, "watchtower step failed"),
            }
        }
        txs.end(&guarded);
        changed
    }

    async fn guard_one(
        &self,
        chain: &AdjudicatorClient,
        txs: &mut Txs,
        id: B256,
        w: &mut Watched,
        head: Head,
    ) -> anyhow::Result<Step> {
        let info = chain.channel(id).await?;
        let now = head.time;
        match Status::of(&info) {
            // The hub's own close is not on chain (not mined yet, or dropped by a reorg).
            Status::Open if w.initiated => {
                let before = w.submitted.clone();
                self.send_close(chain, txs, id, w, head).await?;
                Ok(if w.submitted == before {
                    Step::Keep
                } else {
                    Step::Changed
                })
            }
            Status::None | Status::Open if txs.busy(id) => Ok(Step::Keep),
            Status::None | Status::Open => {
                tracing::warn!(channel = %id, "the close followed is no longer on chain (a reorg deeper than the confirmation depth)");
                Ok(Step::Done)
            }
            Status::Closing => {
                let signed = self.signed(id).await?;
                let mut step = Step::Keep;
                if let Some(s) = &signed {
                    if s.state.nonce > info.registeredNonce && now < info.deadline {
                        // Its locks settle what it registers.
                        if w.submitted.as_ref() != Some(&s.state) {
                            w.submitted = Some(s.state.clone());
                            step = Step::Changed;
                        }
                        let tx = chain.challenge_tx(&s.params, &s.state, &s.sigs);
                        match txs
                            .want(chain, (id, Action::Challenge), tx, head.number)
                            .await
                        {
                            Ok(Sent::New(hash) | Sent::Again(hash)) => tracing::warn!(
                                channel = %id,
                                stale = info.registeredNonce,
                                nonce = s.state.nonce,
                                tx = %hash,
                                "challenging a stale close with the hub's latest state"
                            ),
                            Ok(Sent::InFlight) => {}
                            Err(e) => tracing::warn!(
                                channel = %id,
                                error = %e,
                                "challenge failed; retrying next poll"
                            ),
                        }
                        // The registered state changes (or not): read it again next poll.
                        return Ok(step);
                    }
                    self.reveal(chain, txs, id, s, head).await;
                }
                if now > info.deadline {
                    let Some(locks) = settle_locks(info.locksRoot, w, signed.as_ref()) else {
                        // E.g. the peer registered the hub's own proposal, countersigned but
                        // never acknowledged: the peer (or anyone with its locks) settles it.
                        if !w.unknown_logged {
                            w.unknown_logged = true;
                            tracing::warn!(
                                channel = %id,
                                nonce = info.registeredNonce,
                                "registered state unknown to the hub; cannot settle it"
                            );
                        }
                        return Ok(step);
                    };
                    let tx = chain.settle_tx(id, &locks);
                    if let Sent::New(hash) | Sent::Again(hash) = txs
                        .want(chain, (id, Action::Settle), tx, head.number)
                        .await?
                    {
                        tracing::info!(
                            channel = %id,
                            nonce = info.registeredNonce,
                            payout_a = %info.payoutA,
                            payout_b = %info.payoutB,
                            locks = locks.len(),
                            tx = %hash,
                            "settling a unilateral close"
                        );
                    }
                }
                Ok(step)
            }
            Status::Closed => {
                let signed = self.signed(id).await?;
                let count = info.lockCount.saturating_to();
                let step = self
                    .claim(chain, txs, id, count, signed.as_ref(), head)
                    .await?;
                // Not done while a transaction of the channel could still be orphaned.
                Ok(match step {
                    Step::Done if txs.busy(id) => Step::Keep,
                    step => step,
                })
            }
        }
    }

    /// Reveals on chain the preimages the hub knows for HTLCs it receives, while they can
    /// still redeem (so a lock expiring before the settlement is not lost).
    async fn reveal(
        &self,
        chain: &AdjudicatorClient,
        txs: &mut Txs,
        id: B256,
        s: &SignedLatest,
        head: Head,
    ) {
        for h in s.state.htlcs.iter().filter(|h| h.from == Side::A) {
            let Some((_, preimage)) = s.preimages.iter().find(|(p, _)| *p == h.payment_hash) else {
                continue;
            };
            if head.time >= h.expiry {
                continue;
            }
            match chain.revealed_at(h.payment_hash).await {
                Ok(0) => {
                    let tx = chain.reveal_preimage_tx(*preimage);
                    let key = (id, Action::Reveal(h.payment_hash));
                    match txs.want(chain, key, tx, head.number).await {
                        Ok(Sent::New(_) | Sent::Again(_)) => {
                            tracing::info!(hash = %h.payment_hash, "revealing a preimage on chain")
                        }
                        Ok(Sent::InFlight) => {}
                        Err(e) => {
                            tracing::warn!(hash = %h.payment_hash, error = %e, "reveal failed")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the preimage registry failed"),
            }
        }
    }

    /// Claims the settled locks that pay the hub (participant B). `Done` once none can.
    async fn claim(
        &self,
        chain: &AdjudicatorClient,
        txs: &mut Txs,
        id: B256,
        count: u64,
        signed: Option<&SignedLatest>,
        head: Head,
    ) -> anyhow::Result<Step> {
        let now = head.time;
        let mut open = false;
        for index in 0..count {
            let l = chain.lock(id, index).await?;
            if l.claimed {
                continue;
            }
            let revealed = chain.revealed_at(l.paymentHash).await?;
            let redeemable = revealed != 0 && revealed <= l.expiry;
            let preimage = if l.fromA && !redeemable && now < l.expiry {
                signed.and_then(|s| {
                    s.preimages
                        .iter()
                        .find(|(h, _)| *h == l.paymentHash)
                        .map(|(_, p)| *p)
                })
            } else {
                None
            };
            // The hub is B: it receives A's locks when redeemed, gets its own back otherwise.
            let pays_hub = if l.fromA {
                redeemable || preimage.is_some()
            } else {
                !redeemable && now > l.expiry
            };
            if !pays_hub {
                // Undetermined until expiry: a preimage the hub learns later still redeems an
                // incoming lock; an outgoing one comes back to the hub if nobody reveals.
                open |= revealed == 0 && now <= l.expiry;
                continue;
            }
            let tx: TransactionRequest = chain.claim_htlc_tx(id, index, preimage);
            match txs
                .want(chain, (id, Action::Claim(index)), tx, head.number)
                .await
            {
                Ok(Sent::New(hash) | Sent::Again(hash)) => tracing::info!(
                    channel = %id,
                    index,
                    amount = l.amount,
                    redeemed = l.fromA,
                    tx = %hash,
                    "claiming a settled HTLC"
                ),
                Ok(Sent::InFlight) => {}
                Err(e) => {
                    open = true;
                    tracing::warn!(channel = %id, index, error = %e, "HTLC claim failed");
                }
            }
        }
        Ok(if open { Step::Keep } else { Step::Done })
    }
}

/// The locks to settle a close whose registered state commits to `root`: those of the state
/// the hub registered, of its latest state, or none, whichever matches.
fn settle_locks(
    root: B256,
    w: &Watched,
    signed: Option<&SignedLatest>,
) -> Option<Vec<eip712::Lock>> {
    let candidates = w
        .submitted
        .iter()
        .chain(signed.map(|s| &s.state))
        .map(ChannelState::locks)
        .chain(std::iter::once(vec![]));
    candidates.into_iter().find(|l| locks_root(l) == root)
}
