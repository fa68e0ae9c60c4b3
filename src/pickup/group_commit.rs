//! Group commit: concurrent requests of one kind are gathered for a short, bounded window
//! and written together, so a burst costs one transaction and one commit per batch instead
//! of one per request.
//!
//! A request waits at most [`GroupCommitSettings::window`] for company (and not at all once
//! [`GroupCommitSettings::max_batch`] requests are gathered), then for the batch's commit: its
//! answer is sent only after the transaction holding it committed. Several batches are
//! written at once ([`GroupCommitSettings::writers`], each on its own connection), so a batch
//! gathers while the previous one commits. Each request has a key (its shop), and requests of
//! one key always go to the same writer: batches written at once then never touch the same
//! shop's rows, so none waits for another's commit on a row lock (a shop's slot counter is one
//! row) and they run side by side on the database's cores. What a batch does, and how each
//! request gets its own outcome, is the `write` function's business ([`super::writes`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How requests are gathered into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitSettings {
    /// Longest wait, after the first request of a batch, for more requests; zero takes only
    /// those already queued.
    pub window: Duration,
    /// Most requests in one batch; 1 turns group commit off (one transaction per request).
    pub max_batch: usize,
    /// Batches written at once, each on its own pooled connection.
    pub writers: usize,
}

type Job<I, O> = (I, oneshot::Sender<O>);

/// A group committer for one kind of request: `I` in, `O` out.
pub struct GroupCommit<I, O> {
    /// One queue per writer.
    queues: Vec<mpsc::Sender<Job<I, O>>>,
    /// Which writer a request goes to (modulo the writers).
    key: Box<dyn Fn(&I) -> u64 + Send + Sync>,
}

impl<I: Send + 'static, O: Send + 'static> GroupCommit<I, O> {
    /// Starts the writer threads; requests with the same `key` go to the same writer, and
    /// `write` gets each batch in order of arrival and answers one output per input, in the
    /// same order. The threads end when the committer is dropped.
    pub fn start(
        name: &str,
        settings: GroupCommitSettings,
        key: impl Fn(&I) -> u64 + Send + Sync + 'static,
        write: impl Fn(Vec<I>) -> Vec<O> + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let write = Arc::new(write);
        let mut queues = Vec::new();
        for n in 0..settings.writers.max(1) {
            let (queue, jobs) = mpsc::channel::<Job<I, O>>();
            queues.push(queue);
            let write = write.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    while let Some(batch) = gather(&jobs, settings) {
                        let (inputs, replies): (Vec<I>, Vec<_>) = batch.into_iter().unzip();
                        // A panic fails this batch's requests (their senders drop), not the
                        // writer: the next batch is written as usual.
                        if let Ok(outputs) = catch_unwind(AssertUnwindSafe(|| write(inputs))) {
                            for (reply, output) in replies.into_iter().zip(outputs) {
                                // The caller may have gone (its connection closed): nothing to do.
                                let _ = reply.send(output);
                            }
                        }
                    }
                })?;
        }
        Ok(Self {
            queues,
            key: Box::new(key),
        })
    }

    /// Queues one request and waits for its answer, given once the batch holding it
    /// committed; `None` if the batch failed without answering (a panic in `write`).
    pub async fn submit(&self, input: I) -> Option<O> {
        let (reply, answer) = oneshot::channel();
        // The writer count is small: the cast of the remainder cannot truncate.
        let writer = ((self.key)(&input) % self.queues.len() as u64) as usize;
        self.queues[writer].send((input, reply)).ok()?;
        answer.await.ok()
    }
}

/// The next batch: the first request (waiting for it as long as it takes), then whatever
/// arrives within the window, up to the batch size. `None` once the committer is dropped.
fn gather<I, O>(jobs: &Receiver<Job<I, O>>, s: GroupCommitSettings) -> Option<Vec<Job<I, O>>> {
    let mut batch = vec![jobs.recv().ok()?];
    let deadline = Instant::now() + s.window;
    while batch.len() < s.max_batch.max(1) {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match jobs.recv_timeout(left) {
                    Ok(job) => batch.push(job),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    fn settings(window_ms: u64, max_batch: usize, writers: usize) -> GroupCommitSettings {
        GroupCommitSettings {
            window: Duration::from_millis(window_ms),
            max_batch,
            writers,
        }
    }

    /// Every request gets its own answer, batches never exceed their size, and requests
    /// sent together are written together.
    #[test]
    fn answers_each_request_in_batches() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let gc = GroupCommit::start(
            "test",
            settings(50, 8, 1),
            |_: &u32| 0,
            move |xs: Vec<u32>| {
                seen.lock().expect("sizes").push(xs.len());
                xs.into_iter().map(|x| x * 2).collect()
            },
        )
        .expect("threads");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let gc = Arc::new(gc);
        let mut answers = rt.block_on(async {
            let mut all = tokio::task::JoinSet::new();
            for x in 0..20u32 {
                let gc = gc.clone();
                all.spawn(async move { (x, gc.submit(x).await) });
            }
            all.join_all().await
        });
        answers.sort();
        assert_eq!(
            answers,
            (0..20u32).map(|x| (x, Some(x * 2))).collect::<Vec<_>>()
        );
        let sizes = sizes.lock().expect("sizes").clone();
        assert!(sizes.iter().all(|&n| (1..=8).contains(&n)), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(
            sizes.len() < 20,
            "requests sent together share batches: {sizes:?}"
        );
    }

    /// A batch whose writer panics fails only its own requests.
    #[test]
    fn a_panicking_batch_fails_only_its_requests() {
        let gc = GroupCommit::start(
            "test",
            settings(0, 1, 1),
            |_: &u32| 0,
            |xs: Vec<u32>| {
                assert!(xs[0] != 3, "boom");
                xs
            },
        )
        .expect("threads");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            assert_eq!(gc.submit(1).await, Some(1));
            assert_eq!(gc.submit(3).await, None);
            assert_eq!(gc.submit(4).await, Some(4));
        });
    }

    /// Requests with the same key are always written by the same writer (so concurrent
    /// batches never share a shop), and every writer gets work when keys differ.
    #[test]
    fn one_key_one_writer() {
        let writers_seen = Arc::new(Mutex::new(HashMap::<u32, Vec<String>>::new()));
        let seen = writers_seen.clone();
        let gc = GroupCommit::start(
            "keyed",
            settings(1, 4, 3),
            |x: &u32| u64::from(x % 6),
            move |xs: Vec<u32>| {
                let me = std::thread::current().name().unwrap_or("?").to_string();
                let mut seen = seen.lock().expect("seen");
                for x in &xs {
                    seen.entry(x % 6).or_default().push(me.clone());
                }
                xs
            },
        )
        .expect("threads");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let gc = Arc::new(gc);
        rt.block_on(async {
            let mut all = tokio::task::JoinSet::new();
            for x in 0..60u32 {
                let gc = gc.clone();
                all.spawn(async move { gc.submit(x).await });
            }
            assert!(all.join_all().await.iter().all(Option::is_some));
        });
        let seen = writers_seen.lock().expect("seen");
        assert_eq!(seen.len(), 6);
        let mut writers = std::collections::BTreeSet::new();
        for (key, names) in seen.iter() {
            assert_eq!(names.len(), 10, "key {key}");
            assert!(names.iter().all(|n| n == &names[0]), "key {key}: {names:?}");
            writers.insert(names[0].clone());
        }
        assert_eq!(writers.len(), 3, "{writers:?}");
    }
}
