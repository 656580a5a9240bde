//! Follows the adjudicator's events: tells the hub about deposits, and guards the hub's
//! channels as a watchtower. Polls `eth_getLogs` from the last scanned block (kept in the
//! database, so a restart misses nothing).
//!
//! Watchtower: a `CloseRegistered` (or `Challenged`) of a channel the hub holds puts the
//! channel under watch. Every poll, for each watched channel, the watcher reads the channel
//! from the chain and acts on what it finds there, so every step is idempotent and a restart
//! simply resumes:
//!
//! * closing, the registered nonce below the hub's latest doubly-signed state, inside the
//!   challenge window: `challenge` with the hub's state;
//! * closing: reveal the preimages the hub knows for HTLCs it receives (a lock whose expiry
//!   falls before the settlement must be revealed in time);
//! * closing, past the deadline (latest block time): `settle` with the locks of the registered
//!   state (the hub's own if it won the challenge, or the one whose locks root matches);
//! * closed: `claimHtlc` for every lock that pays the hub (receiver with a known or revealed
//!   preimage, or sender once it expired unrevealed); the channel leaves the watch when no lock
//!   can pay the hub any more.
//!
//! The watched set, with the state the hub registered for each, is stored with the cursor.
//!
//! Going to chain: when a channel's core emits `Event::GoToChain` (the peer proved dishonest,
//! or an HTLC the hub is settling is about to expire unsettled) the actor lists the channel
//! (`Command::ToChain`, kept durably under [`GO_TO_CHAIN`]). Every poll the watcher closes
//! each listed channel that is still open on chain: `closeUnilateral` with the hub's latest
//! doubly-signed state, or `closeWithoutState` (the deposits go back) when nothing was signed
//! yet. The channel then joins the watched set like any other close, so the watchtower
//! challenges, reveals, settles and claims as above.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use l2pay::eip712::{self, locks_root};
use l2pay::state::Side;
use l2pay::ChannelState;
use l2pay_chain::{fetch_events, AdjudicatorClient, AdjudicatorEvent, Status};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::actor::{Command, SignedLatest, GO_TO_CHAIN};
use crate::store::{Store, Write};

const CURSOR: &str = "watcher.next_block";
const WATCHED: &str = "watcher.closes";
/// Channels closed cooperatively on chain: they stay frozen across restarts.
const CLOSED: &str = "watcher.closed";

pub struct Watcher {
    pub provider: DynProvider,
    pub adjudicator: Address,
    pub store: Store,
    pub actor: mpsc::Sender<Command>,
    pub poll: Duration,
}

/// A channel whose unilateral close the hub follows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Watched {
    /// The last state the hub registered by `challenge` (its locks are needed to settle it).
    submitted: Option<ChannelState>,
    /// The registered state's locks are unknown to the hub (said once per run).
    #[serde(skip)]
    unknown_logged: bool,
}

type WatchSet = BTreeMap<B256, Watched>;

impl Watcher {
    pub async fn run(self) {
        let mut next = self
            .store
            .meta(CURSOR)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let mut watched: WatchSet = match self.store.meta(WATCHED).await {
            Ok(Some(v)) => serde_json::from_str(&v).unwrap_or_else(|e| {
                tracing::error!(error = %e, "unreadable watchtower record; starting empty");
                WatchSet::new()
            }),
            Ok(None) => WatchSet::new(),
            Err(e) => {
                tracing::error!(error = %e, "watchtower record unavailable; starting empty");
                WatchSet::new()
            }
        };
        // Channels already in a dispute stay frozen across a restart.
        for channel_id in watched.keys() {
            let _ = self
                .actor
                .send(Command::ChainClosing {
                    channel_id: *channel_id,
                })
                .await;
        }
        let mut closed: BTreeSet<B256> = match self.store.meta(CLOSED).await {
            Ok(Some(v)) => serde_json::from_str(&v).unwrap_or_else(|e| {
                tracing::error!(error = %e, "unreadable closed-channels record");
                BTreeSet::new()
            }),
            Ok(None) => BTreeSet::new(),
            Err(e) => {
                tracing::error!(error = %e, "closed-channels record unavailable");
                BTreeSet::new()
            }
        };
        for channel_id in &closed {
            let _ = self
                .actor
                .send(Command::ChainClosing {
                    channel_id: *channel_id,
                })
                .await;
        }
        // Channels the hub decided to close before a restart are still to be closed.
        let to_chain: BTreeMap<B256, String> = match self.store.meta(GO_TO_CHAIN).await {
            Ok(Some(v)) => serde_json::from_str(&v).unwrap_or_else(|e| {
                tracing::error!(error = %e, "unreadable go-to-chain record");
                BTreeMap::new()
            }),
            Ok(None) => BTreeMap::new(),
            Err(e) => {
                tracing::error!(error = %e, "go-to-chain record unavailable");
                BTreeMap::new()
            }
        };
        for (channel_id, reason) in to_chain {
            let _ = self
                .actor
                .send(Command::GoToChain { channel_id, reason })
                .await;
        }
        let chain = AdjudicatorClient::new(self.adjudicator, self.provider.clone());
        loop {
            match self.scan(next, &mut watched, &mut closed).await {
                Ok(Some(n)) => next = n,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "chain watcher poll failed"),
            }
            match self.go_to_chain(&chain, &mut watched).await {
                Ok(true) => {
                    if let Err(e) = self.save(None, &watched).await {
                        tracing::warn!(error = %e, "storing the watchtower record failed");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "closing channels on chain failed"),
            }
            if !watched.is_empty() {
                match self.guard(&chain, &mut watched).await {
                    Ok(true) => {
                        if let Err(e) = self.save(None, &watched).await {
                            tracing::warn!(error = %e, "storing the watchtower record failed");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "watchtower poll failed"),
                }
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Scans blocks from `from` to the head; returns the next block to scan.
    async fn scan(
        &self,
        from: u64,
        watched: &mut WatchSet,
        closed: &mut BTreeSet<B256>,
    ) -> anyhow::Result<Option<u64>> {
        let head = self.provider.get_block_number().await?;
        if head < from {
            return Ok(None);
        }
        let events = fetch_events(&self.provider, self.adjudicator, from, Some(head), None).await?;
        for e in events {
            let (channel_id, by, total) = match e.event {
                AdjudicatorEvent::Opened(o) => (o.channelId, o.a, o.amount),
                AdjudicatorEvent::Deposited(d) => (d.channelId, d.by, d.totalDeposit),
                AdjudicatorEvent::CloseRegistered(c) => {
                    self.on_close(c.channelId, c.by, c.nonce.saturating_to(), watched)
                        .await?;
                    continue;
                }
                AdjudicatorEvent::Challenged(c) => {
                    self.on_close(c.channelId, c.by, c.nonce.saturating_to(), watched)
                        .await?;
                    continue;
                }
                // A cooperative close is final at once: the off-chain channel is over, for
                // good (recorded before the cursor moves past the event).
                AdjudicatorEvent::Closed(c) => {
                    if closed.insert(c.channelId) {
                        self.store
                            .write_batch(&[Write::Meta {
                                key: CLOSED.into(),
                                value: serde_json::to_string(closed)?,
                            }])
                            .await?;
                    }
                    let cmd = Command::ChainClosing {
                        channel_id: c.channelId,
                    };
                    if self.actor.send(cmd).await.is_err() {
                        return Ok(None);
                    }
                    continue;
                }
                _ => continue,
            };
            // The contract caps deposits at u128::MAX.
            let total = u128::try_from(total).unwrap_or(u128::MAX);
            let cmd = Command::ChainDeposit {
                channel_id,
                by,
                total,
            };
            if self.actor.send(cmd).await.is_err() {
                return Ok(None);
            }
        }
        let next = head + 1;
        self.save(Some(next), watched).await?;
        Ok(Some(next))
    }

    /// Stores the watched set (and the cursor) in one transaction.
    async fn save(&self, next: Option<u64>, watched: &WatchSet) -> anyhow::Result<()> {
        let mut writes = vec![Write::Meta {
            key: WATCHED.into(),
            value: serde_json::to_string(watched)?,
        }];
        if let Some(next) = next {
            writes.push(Write::Meta {
                key: CURSOR.into(),
                value: next.to_string(),
            });
        }
        self.store.write_batch(&writes).await?;
        Ok(())
    }

    /// A close was registered (or challenged): watch the channel if the hub holds it.
    async fn on_close(
        &self,
        channel_id: B256,
        by: Address,
        nonce: u64,
        watched: &mut WatchSet,
    ) -> anyhow::Result<()> {
        if watched.contains_key(&channel_id) {
            return Ok(());
        }
        let held = match self.signed(channel_id).await? {
            Some(_) => true,
            None => self.holds(channel_id).await?,
        };
        if held {
            tracing::info!(channel = %channel_id, %by, nonce, "close registered on chain; watching");
            watched.insert(channel_id, Watched::default());
            // No new HTLCs on a channel whose fate the chain now decides.
            let _ = self.actor.send(Command::ChainClosing { channel_id }).await;
        }
        Ok(())
    }

    /// Closes on chain every channel the actor must take there; `true` if the watched set
    /// changed. A failed transaction is tried again next poll.
    async fn go_to_chain(
        &self,
        chain: &AdjudicatorClient,
        watched: &mut WatchSet,
    ) -> anyhow::Result<bool> {
        let (reply, rx) = oneshot::channel();
        self.actor
            .send(Command::ToChain { reply })
            .await
            .map_err(|_| anyhow::anyhow!("hub actor stopped"))?;
        let mut changed = false;
        for id in rx.await? {
            if watched.contains_key(&id) {
                continue;
            }
            match self.close(chain, id).await {
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
        Ok(changed)
    }

    /// Starts the unilateral close of one channel; the watch record to follow it with, or
    /// `None` when there is nothing on chain to close.
    async fn close(&self, chain: &AdjudicatorClient, id: B256) -> anyhow::Result<Option<Watched>> {
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
            Status::Open => match self.signed(id).await? {
                Some(s) => {
                    let r = chain.close_unilateral(&s.params, &s.state, &s.sigs).await?;
                    tracing::warn!(
                        channel = %id,
                        nonce = s.state.nonce,
                        tx = %r.transaction_hash,
                        "closed on chain with the hub's latest state"
                    );
                    Ok(Some(Watched {
                        submitted: Some(s.state),
                        unknown_logged: false,
                    }))
                }
                None => {
                    let r = chain.close_without_state(id).await?;
                    tracing::warn!(
                        channel = %id,
                        tx = %r.transaction_hash,
                        "closed on chain without a signed state (deposits go back)"
                    );
                    Ok(Some(Watched::default()))
                }
            },
        }
    }

    /// The hub's latest doubly-signed state of a channel (`None`: unknown channel, or nothing
    /// signed yet).
    async fn signed(&self, channel_id: B256) -> anyhow::Result<Option<SignedLatest>> {
        let (reply, rx) = oneshot::channel();
        self.actor
            .send(Command::SignedState { channel_id, reply })
            .await
            .map_err(|_| anyhow::anyhow!("hub actor stopped"))?;
        Ok(rx.await?)
    }

    /// Whether the hub holds the channel at all.
    async fn holds(&self, channel_id: B256) -> anyhow::Result<bool> {
        let (reply, rx) = oneshot::channel();
        self.actor
            .send(Command::Channels { reply })
            .await
            .map_err(|_| anyhow::anyhow!("hub actor stopped"))?;
        Ok(rx.await?.iter().any(|c| c.channel_id == channel_id))
    }

    /// One watchtower round over every watched channel; `true` if the watched set changed.
    async fn guard(
        &self,
        chain: &AdjudicatorClient,
        watched: &mut WatchSet,
    ) -> anyhow::Result<bool> {
        let now = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no latest block"))?
            .header
            .timestamp;
        let mut changed = false;
        let ids: Vec<B256> = watched.keys().copied().collect();
        for id in ids {
            let Some(w) = watched.get_mut(&id) else {
                continue;
            };
            match self.guard_one(chain, id, w, now).await {
                Ok(Step::Keep) => {}
                Ok(Step::Changed) => changed = true,
                Ok(Step::Done) => {
                    tracing::info!(channel = %id, "watchtower done with channel");
                    watched.remove(&id);
                    changed = true;
                }
                Err(e) => tracing::warn!(channel = %id, error = %e, "watchtower step failed"),
            }
        }
        Ok(changed)
    }

    async fn guard_one(
        &self,
        chain: &AdjudicatorClient,
        id: B256,
        w: &mut Watched,
        now: u64,
    ) -> anyhow::Result<Step> {
        let info = chain.channel(id).await?;
        let signed = self.signed(id).await?;
        match Status::of(&info) {
            Status::None | Status::Open => Ok(Step::Done),
            Status::Closing => {
                let mut step = Step::Keep;
                if let Some(s) = &signed {
                    if s.state.nonce > info.registeredNonce && now < info.deadline {
                        // Persist what we register before sending it: its locks settle it.
                        w.submitted = Some(s.state.clone());
                        step = Step::Changed;
                        match chain.challenge(&s.params, &s.state, &s.sigs).await {
                            Ok(r) => tracing::warn!(
                                channel = %id,
                                stale = info.registeredNonce,
                                nonce = s.state.nonce,
                                tx = %r.transaction_hash,
                                "challenged a stale close with the hub's latest state"
                            ),
                            Err(e) => tracing::warn!(
                                channel = %id,
                                error = %e,
                                "challenge failed; retrying next poll"
                            ),
                        }
                        // The registered state changed (or not): re-read it next poll.
                        return Ok(step);
                    }
                    self.reveal(chain, s, now).await;
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
                    let r = chain.settle_raw(id, &locks).await?;
                    tracing::info!(
                        channel = %id,
                        nonce = info.registeredNonce,
                        payout_a = %info.payoutA,
                        payout_b = %info.payoutB,
                        locks = locks.len(),
                        tx = %r.transaction_hash,
                        "settled a unilateral close"
                    );
                }
                Ok(step)
            }
            Status::Closed => {
                let count = info.lockCount.saturating_to();
                self.claim(chain, id, count, signed.as_ref(), now).await
            }
        }
    }

    /// Reveals on chain the preimages the hub knows for HTLCs it receives, while they can
    /// still redeem (so a lock expiring before the settlement is not lost).
    async fn reveal(&self, chain: &AdjudicatorClient, s: &SignedLatest, now: u64) {
        for h in s.state.htlcs.iter().filter(|h| h.from == Side::A) {
            let Some((_, preimage)) = s.preimages.iter().find(|(p, _)| *p == h.payment_hash) else {
                continue;
            };
            if now >= h.expiry {
                continue;
            }
            match chain.revealed_at(h.payment_hash).await {
                Ok(0) => match chain.reveal_preimage(*preimage).await {
                    Ok(_) => tracing::info!(hash = %h.payment_hash, "revealed a preimage on chain"),
                    Err(e) => tracing::warn!(hash = %h.payment_hash, error = %e, "reveal failed"),
                },
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the preimage registry failed"),
            }
        }
    }

    /// Claims the settled locks that pay the hub (participant B). `Done` once none can.
    async fn claim(
        &self,
        chain: &AdjudicatorClient,
        id: B256,
        count: u64,
        signed: Option<&SignedLatest>,
        now: u64,
    ) -> anyhow::Result<Step> {
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
            match chain.claim_htlc(id, index, preimage).await {
                Ok(r) => tracing::info!(
                    channel = %id,
                    index,
                    amount = l.amount,
                    redeemed = l.fromA,
                    tx = %r.transaction_hash,
                    "claimed a settled HTLC"
                ),
                Err(e) => {
                    open = true;
                    tracing::warn!(channel = %id, index, error = %e, "HTLC claim failed");
                }
            }
        }
        Ok(if open { Step::Keep } else { Step::Done })
    }
}

enum Step {
    Keep,
    Changed,
    Done,
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
