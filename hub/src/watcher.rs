//! Follows the adjudicator's events and tells the hub about deposits. Polls `eth_getLogs` from
//! the last scanned block (kept in the database, so a restart misses nothing).

use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider};
use l2pay_chain::{fetch_events, AdjudicatorEvent};
use tokio::sync::mpsc;

use crate::actor::Command;
use crate::store::{Store, Write};

const CURSOR: &str = "watcher.next_block";

pub struct Watcher {
    pub provider: DynProvider,
    pub adjudicator: Address,
    pub store: Store,
    pub actor: mpsc::Sender<Command>,
    pub poll: Duration,
}

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
        loop {
            match self.scan(next).await {
                Ok(Some(n)) => next = n,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "chain watcher poll failed"),
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Scans blocks from `from` to the head; returns the next block to scan.
    async fn scan(&self, from: u64) -> anyhow::Result<Option<u64>> {
        let head = self.provider.get_block_number().await?;
        if head < from {
            return Ok(None);
        }
        let events = fetch_events(&self.provider, self.adjudicator, from, Some(head), None).await?;
        for e in events {
            let (channel_id, by, total) = match e.event {
                AdjudicatorEvent::Opened(o) => (o.channelId, o.a, o.amount),
                AdjudicatorEvent::Deposited(d) => (d.channelId, d.by, d.totalDeposit),
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
        self.store
            .write_batch(&[Write::Meta {
                key: CURSOR.into(),
                value: next.to_string(),
            }])
            .await?;
        Ok(Some(next))
    }
}
