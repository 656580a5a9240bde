//! Follows the adjudicator's events: tells the hub about deposits, and guards the hub's
//! channels as a watchtower. Polls `eth_getLogs` from the last scanned block (kept in the
//! database, so a restart misses nothing).
//!
//! Confirmations and reorgs: the hub hears of a deposit or a close only once its block is
//! `confirmations` deep ([`l2pay_chain::EventCursor`]), so a reorg shallower than that never
//! shows it an orphaned deposit. A deeper reorg is detected from the remembered hashes of
//! recently scanned blocks (stored with the cursor): the cursor rewinds to the fork point and
//! reads the new branch again. Deposits are reported as cumulative totals, so reading again is
//! idempotent, but a deposit the hub already recognised from an orphaned block stays
//! recognised (the actor keeps the highest total): the depth must exceed the deepest reorg
//! the chain can have.
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
//! The watchtower acts at the chain head (a challenge cannot wait for confirmations), and
//! follows each transaction it sends until it is `confirmations` deep, sending it again with
//! bumped fees when it is not mined in time or a reorg drops it (`txs.rs`).
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
use l2pay::ChannelState;
use l2pay_chain::{AdjudicatorClient, AdjudicatorEvent, EventCursor};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::actor::{Command, SignedLatest, GO_TO_CHAIN};
use crate::store::{Store, Write};

mod tower;
mod txs;

use tower::Head;
use txs::Txs;

const CURSOR: &str = "watcher.next_block";
/// Hashes of recently scanned blocks, to notice a reorg of them (also across a restart).
const BLOCKS: &str = "watcher.blocks";
const WATCHED: &str = "watcher.closes";
/// The watchtower's transactions in flight.
const PENDING: &str = "watcher.pending";
/// Channels closed cooperatively on chain: they stay frozen across restarts.
const CLOSED: &str = "watcher.closed";

pub struct Watcher {
    pub provider: DynProvider,
    pub adjudicator: Address,
    /// The hub's account, which sends the watchtower's transactions.
    pub hub: Address,
    pub store: Store,
    pub actor: mpsc::Sender<Command>,
    pub poll: Duration,
    /// Blocks mined on top of a block before the hub acts on its deposits and closes, and
    /// before a transaction of the watchtower counts as final.
    pub confirmations: u64,
}

/// A channel whose unilateral close the hub follows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Watched {
    /// The last state the hub registered by `challenge` or its own close (its locks are
    /// needed to settle it).
    submitted: Option<ChannelState>,
    /// The hub started this close itself: it sends the close again while the chain shows the
    /// channel open.
    #[serde(default)]
    initiated: bool,
    /// The registered state's locks are unknown to the hub (said once per run).
    #[serde(skip)]
    unknown_logged: bool,
}

type WatchSet = BTreeMap<B256, Watched>;

/// A JSON record of the store, or `T::default()` (said in the log) when missing or unreadable.
async fn load<T: Default + for<'de> Deserialize<'de>>(store: &Store, key: &str) -> T {
    match store.meta(key).await {
        Ok(Some(v)) => serde_json::from_str(&v).unwrap_or_else(|e| {
            tracing::error!(key, error = %e, "unreadable watcher record; starting empty");
            T::default()
        }),
        Ok(None) => T::default(),
        Err(e) => {
            tracing::error!(key, error = %e, "watcher record unavailable; starting empty");
            T::default()
        }
    }
}

impl Watcher {
    pub async fn run(self) {
        let next = self
            .store
            .meta(CURSOR)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let blocks: Vec<(u64, B256)> = load(&self.store, BLOCKS).await;
        let mut cursor = EventCursor::new(self.adjudicator, 0)
            .confirmations(self.confirmations)
            .resume(next, blocks);
        let mut watched: WatchSet = load(&self.store, WATCHED).await;
        let mut txs = Txs::new(
            self.hub,
            self.confirmations,
            load(&self.store, PENDING).await,
        );
        // Channels already in a dispute stay frozen across a restart.
        let mut closed: BTreeSet<B256> = load(&self.store, CLOSED).await;
        for channel_id in watched.keys().chain(closed.iter()) {
            let _ = self
                .actor
                .send(Command::ChainClosing {
                    channel_id: *channel_id,
                })
                .await;
        }
        // Channels the hub decided to close before a restart are still to be closed.
        let to_chain: BTreeMap<B256, String> = load(&self.store, GO_TO_CHAIN).await;
        for (channel_id, reason) in to_chain {
            let _ = self
                .actor
                .send(Command::GoToChain { channel_id, reason })
                .await;
        }
        let chain = AdjudicatorClient::new(self.adjudicator, self.provider.clone());
        loop {
            let caught_up = match self.scan(&mut cursor, &mut watched, &mut closed).await {
                Ok(caught_up) => caught_up,
                Err(e) => {
                    tracing::warn!(error = %e, "chain watcher poll failed");
                    true
                }
            };
            match self.tower(&chain, &mut txs, &mut watched).await {
                Ok(true) => {
                    if let Err(e) = self.save(None, &watched, Some(&txs)).await {
                        tracing::warn!(error = %e, "storing the watchtower record failed");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "watchtower poll failed"),
            }
            // Catching up on a long stretch of blocks: read on at once.
            if caught_up {
                tokio::time::sleep(self.poll).await;
            }
        }
    }

    /// Scans the blocks confirmed since the last poll (after rewinding over a reorg);
    /// whether the cursor caught up with the confirmed head. The cursor moves (and is stored)
    /// only once every event was handled, so a failure reads the same blocks again.
    async fn scan(
        &self,
        cursor: &mut EventCursor,
        watched: &mut WatchSet,
        closed: &mut BTreeSet<B256>,
    ) -> anyhow::Result<bool> {
        let mut next = cursor.clone();
        let polled = next.poll_batch(&self.provider).await?;
        if let Some(r) = polled.reorg {
            tracing::error!(
                was_at = r.was_at,
                rescan_from = r.rescan_from,
                confirmations = self.confirmations,
                "reorg deeper than the confirmation depth; reading the new branch again \
                 (deposits recognised from orphaned blocks stay recognised)"
            );
        }
        for e in polled.events {
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
                    self.actor
                        .send(cmd)
                        .await
                        .map_err(|_| anyhow::anyhow!("hub actor stopped"))?;
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
            self.actor
                .send(cmd)
                .await
                .map_err(|_| anyhow::anyhow!("hub actor stopped"))?;
        }
        if next.next_block() != cursor.next_block() || next.checkpoints() != cursor.checkpoints() {
            // The watched set too: `on_close` may have added to it.
            self.save(Some(&next), watched, None).await?;
        }
        let caught_up = polled.caught_up;
        *cursor = next;
        Ok(caught_up)
    }
    /// Stores the watched set, the watchtower's transactions (if given) and the scan position
    /// (if given) in one transaction.
    async fn save(
        &self,
        cursor: Option<&EventCursor>,
        watched: &WatchSet,
        txs: Option<&Txs>,
    ) -> anyhow::Result<()> {
        let mut writes = vec![Write::Meta {
            key: WATCHED.into(),
            value: serde_json::to_string(watched)?,
        }];
        if let Some(txs) = txs {
            writes.push(Write::Meta {
                key: PENDING.into(),
                value: serde_json::to_string(&txs.stored())?,
            });
        }
        if let Some(cursor) = cursor {
            writes.push(Write::Meta {
                key: CURSOR.into(),
                value: cursor.next_block().to_string(),
            });
            writes.push(Write::Meta {
                key: BLOCKS.into(),
                value: serde_json::to_string(&cursor.checkpoints())?,
            });
        }
        self.store.write_batch(&writes).await?;
        Ok(())
    }

    /// One watchtower round: closes the channels the hub must take to chain and guards the
    /// watched ones; `true` if the watched set or the transactions in flight changed.
    async fn tower(
        &self,
        chain: &AdjudicatorClient,
        txs: &mut Txs,
        watched: &mut WatchSet,
    ) -> anyhow::Result<bool> {
        let to_chain = self.to_chain().await?;
        if to_chain.is_empty() && watched.is_empty() && txs.is_empty() {
            return Ok(false);
        }
        let latest = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no latest block"))?;
        let head = Head {
            number: latest.header.number,
            time: latest.header.timestamp,
        };
        txs.begin(chain, head.number).await?;
        let mut changed = self.go_to_chain(chain, txs, watched, head, to_chain).await;
        changed |= self.guard(chain, txs, watched, head).await;
        changed |= txs.take_changed();
        Ok(changed)
    }

    /// The channels the actor must take to chain and the chain does not show closing yet.
    async fn to_chain(&self) -> anyhow::Result<Vec<B256>> {
        let (reply, rx) = oneshot::channel();
        self.actor
            .send(Command::ToChain { reply })
            .await
            .map_err(|_| anyhow::anyhow!("hub actor stopped"))?;
        Ok(rx.await?)
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
            .send(Command::Holds { channel_id, reply })
            .await
            .map_err(|_| anyhow::anyhow!("hub actor stopped"))?;
        Ok(rx.await?)
    }
}
