//! Group commit: many concurrent writers share one transaction (and one fsync), so durability
//! does not cap throughput at one commit per disk flush.

use std::future::Future;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreError, Write};

/// Default cap on the writes one group transaction carries.
pub const DEFAULT_MAX_GROUP_WRITES: usize = 4096;

struct Request {
    writes: Vec<Write>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    writes: AtomicU64,
    groups: AtomicU64,
    failed_groups: AtomicU64,
}

/// Counters of a [`GroupCommit`] since it was started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// `commit` calls the writer task has completed (successfully or not).
    pub requests: u64,
    /// Writes in those calls.
    pub writes: u64,
    /// Group transactions attempted (each covers one or more requests).
    pub groups: u64,
    /// Groups whose transaction failed; their requests were then retried one by one so that
    /// only the faulty ones fail.
    pub failed_groups: u64,
}

/// A cheap-to-clone handle to a background task that applies every request already queued in
/// one [`Store::write_batch`] transaction (one fsync for all of them), then completes their
/// waiters.
///
/// Requests are applied in the order [`GroupCommit::enqueue`] (or [`GroupCommit::commit`]) was
/// called. To keep a channel's writes in order while waiting in a spawned task, call `enqueue`
/// before spawning and await its future inside the task: the order is fixed at the call.
/// The task stops when every handle is dropped, after finishing what was queued.
#[derive(Clone)]
pub struct GroupCommit {
    tx: mpsc::UnboundedSender<Request>,
    counters: Arc<Counters>,
    store: Store,
}

impl GroupCommit {
    /// Starts the writer task (on the current tokio runtime) with [`DEFAULT_MAX_GROUP_WRITES`].
    pub fn start(store: Store) -> Self {
        Self::with_max_writes(store, DEFAULT_MAX_GROUP_WRITES)
    }

    /// Starts the writer task; a group stops taking requests once it holds `max_writes` writes
    /// (a single larger request still goes through, alone).
    pub fn with_max_writes(store: Store, max_writes: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(store.clone(), rx, max_writes.max(1), counters.clone()));
        GroupCommit {
            tx,
            counters,
            store,
        }
    }

    /// Applies `writes` (in order, all or none) and returns once they are durable, sharing the
    /// transaction with whatever other requests are queued. Same as `self.enqueue(writes).await`.
    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.enqueue(writes).await
    }

    /// Queues `writes` now (this fixes their order relative to other requests) and returns a
    /// future that resolves once they are durable. Dropping the future does not withdraw the
    /// writes: they are applied anyway. Invalid writes ([`Write::validate`]) are not queued;
    /// the future returns the error.
    pub fn enqueue(
        &self,
        writes: Vec<Write>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let queued = self.queue(writes);
        async move {
            match queued? {
                None => Ok(()),
                Some(result) => result.await.map_err(|_| StoreError::Closed)?,
            }
        }
    }

    fn queue(
        &self,
        writes: Vec<Write>,
    ) -> Result<Option<oneshot::Receiver<Result<(), StoreError>>>, StoreError> {
        if writes.is_empty() {
            return Ok(None);
        }
        for w in &writes {
            w.validate()?;
        }
        let (done, result) = oneshot::channel();
        self.tx
            .send(Request { writes, done })
            .map_err(|_| StoreError::Closed)?;
        Ok(Some(result))
    }

    /// The store this handle writes to (for reads).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn stats(&self) -> GroupCommitStats {
        let c = &self.counters;
        GroupCommitStats {
            requests: c.requests.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            groups: c.groups.load(Ordering::Relaxed),
            failed_groups: c.failed_groups.load(Ordering::Relaxed),
        }
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Request>,
    max_writes: usize,
    counters: Arc<Counters>,
) {
    let mut carried: Option<Request> = None;
    loop {
        let first = match carried.take() {
            Some(r) => r,
            None => match rx.recv().await {
                Some(r) => r,
                None => return,
            },
        };
        let mut total = first.writes.len();
        let mut group = vec![first];
        while total < max_writes {
            match rx.try_recv() {
                Ok(r) if total + r.writes.len() > max_writes => {
                    carried = Some(r);
                    break;
                }
                Ok(r) => {
                    total += r.writes.len();
                    group.push(r);
                }
                Err(_) => break,
            }
        }
        flush(&store, group, total, &counters).await;
    }
}

async fn flush(store: &Store, group: Vec<Request>, total: usize, counters: &Counters) {
    let mut writes = Vec::with_capacity(total);
    let mut waiters = Vec::with_capacity(group.len());
    for Request {
        writes: mut w,
        done,
    } in group
    {
        let start = writes.len();
        writes.append(&mut w);
        waiters.push((start..writes.len(), done));
    }
    counters.groups.fetch_add(1, Ordering::Relaxed);
    let result = store.write_batch(&writes).await;
    counters
        .requests
        .fetch_add(waiters.len() as u64, Ordering::Relaxed);
    counters.writes.fetch_add(total as u64, Ordering::Relaxed);
    match result {
        Ok(()) => {
            for (_, done) in waiters {
                let _ = done.send(Ok(()));
            }
        }
        Err(e) if waiters.len() == 1 => {
            let (_, done) = waiters.pop().expect("one waiter");
            let _ = done.send(Err(e));
        }
        Err(e) => {
            // One request may have spoiled the group: retry each alone, in order, so the others
            // still commit and each caller gets its own outcome.
            counters.failed_groups.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, requests = waiters.len(), "group commit failed; retrying its requests one by one");
            for (range, done) in waiters {
                let r: Range<usize> = range;
                let _ = done.send(store.write_batch(&writes[r]).await);
            }
        }
    }
}
