//! Reading and hashing on the other cores, while the loader keeps its order.
//!
//! Parsing YAML is most of a large config's load time (DESIGN.md §9), and included files and
//! `files:` values are independent of each other until their keys are merged. The loader stays
//! one sequential pass that decides every order (keys, file numbers, diagnostics); it hands the
//! slow, self-contained steps (read + parse one file, stream one value file through the hasher)
//! to [`Workers`] ahead of time and takes each result when its turn comes. [`Window`] bounds how
//! much is handed out and not yet taken, so memory stays a few files above sequential loading.
//!
//! Jobs own their inputs and outputs (`'static`), so this module knows nothing of the loader's
//! borrows; the pool is plain `std::thread` and `mpsc` (no dependency): the loader needs
//! in-order results with a bound, not work stealing.

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

/// At most this many threads, whatever the machine: the loader's own sequential work (checking
/// and merging keys) caps the gain long before.
const WORKERS_MAX: usize = 8;

type Task = Box<dyn FnOnce() + Send>;

/// A pool of threads that run jobs in the order they were handed out. Started on first use, so
/// a config without includes or `files:` starts no thread; joined on drop.
pub(crate) struct Workers {
    count: usize,
    started: OnceCell<Started>,
}

struct Started {
    queue: mpsc::Sender<Task>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// As many workers as the machine has cores (at most [`WORKERS_MAX`]); none on one core,
    /// where jobs run in the caller's thread when their result is taken.
    pub(crate) fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::new(if cores > 1 { cores.min(WORKERS_MAX) } else { 0 })
    }

    pub(crate) fn new(count: usize) -> Self {
        Self { count, started: OnceCell::new() }
    }

    /// How many threads run jobs (0: none, jobs run when taken).
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Hands out `job`; its result is taken with [`Ticket::take`]. Without workers (or when
    /// they cannot be started) the job runs inside `take`.
    pub(crate) fn submit<T, F>(&self, job: F) -> Ticket<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let Some(queue) = self.queue() else {
            return Ticket(Inner::Deferred(Box::new(job)));
        };
        let (done, result) = mpsc::sync_channel(1);
        let task: Task = Box::new(move || {
            // A panic is carried to whoever takes the result, as if the job had run there.
            let outcome = panic::catch_unwind(AssertUnwindSafe(job));
            // The ticket may have been dropped (its result is no longer wanted).
            drop(done.send(outcome));
        });
        // Sending fails only when every worker is gone, which a panic inside a job cannot
        // cause; the job then comes back in the error and runs here.
        if let Err(mpsc::SendError(task)) = queue.send(task) {
            task();
        }
        Ticket(Inner::Queued(result))
    }

    fn queue(&self) -> Option<&mpsc::Sender<Task>> {
        if self.count == 0 {
            return None;
        }
        let started = self.started.get_or_init(|| start(self.count));
        (!started.threads.is_empty()).then_some(&started.queue)
    }
}

fn start(count: usize) -> Started {
    let (queue, tasks) = mpsc::channel::<Task>();
    let tasks = Arc::new(Mutex::new(tasks));
    let mut threads = Vec::with_capacity(count);
    for index in 0..count {
        let tasks = Arc::clone(&tasks);
        let spawned =
            std::thread::Builder::new().name(format!("kvsync-load-{index}")).spawn(move || {
                loop {
                    // The lock is held only to take the next task, never while it runs.
                    let next = match tasks.lock() {
                        Ok(tasks) => tasks.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match next {
                        Ok(task) => task(),
                        Err(mpsc::RecvError) => break,
                    }
                }
            });
        // A thread the system refuses is one worker fewer; with none, jobs run when taken.
        if let Ok(handle) = spawned {
            threads.push(handle);
        }
    }
    Started { queue, threads }
}

impl Drop for Workers {
    fn drop(&mut self) {
        if let Some(Started { queue, threads }) = self.started.take() {
            // Closing the queue ends each worker after the task it is running.
            drop(queue);
            for thread in threads {
                drop(thread.join());
            }
        }
    }
}

/// The result of a job handed to [`Workers::submit`], to be taken once.
pub(crate) struct Ticket<T>(Inner<T>);

type Outcome<T> = std::thread::Result<T>;

enum Inner<T> {
    Queued(mpsc::Receiver<Outcome<T>>),
    Deferred(Box<dyn FnOnce() -> T + Send>),
}

impl<T> Ticket<T> {
    /// The job's result, waiting for it if it is still running. A panic in the job is resumed
    /// here.
    pub(crate) fn take(self) -> T {
        match self.0 {
            Inner::Queued(result) => match result.recv() {
                Ok(Ok(value)) => value,
                Ok(Err(payload)) => panic::resume_unwind(payload),
                // The task catches every panic and always sends; a worker can only vanish with
                // the process.
                Err(mpsc::RecvError) => panic!("a config loading worker ended without a result"),
            },
            Inner::Deferred(job) => job(),
        }
    }
}

/// Runs the job `job_for` makes for each item on `workers`, at most `ahead` items before the one
/// being consumed, and gives each item with its job's result (`None` when it has no job) to
/// `consume`, in item order.
pub(crate) fn in_order<I, T, F>(
    workers: &Workers,
    items: Vec<I>,
    ahead: usize,
    job_for: impl Fn(&I) -> Option<F>,
    mut consume: impl FnMut(I, Option<T>),
) where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let mut items: VecDeque<I> = items.into();
    let mut tickets: VecDeque<Option<Ticket<T>>> = VecDeque::new();
    while !items.is_empty() {
        while tickets.len() < items.len() && tickets.len() <= ahead {
            let job = job_for(&items[tickets.len()]);
            tickets.push_back(job.map(|job| workers.submit(job)));
        }
        let (Some(item), Some(ticket)) = (items.pop_front(), tickets.pop_front()) else {
            break;
        };
        consume(item, ticket.map(Ticket::take));
    }
}

/// How much may be handed out and not yet taken: a number of jobs and a number of bytes (of
/// the files they read). One job is always allowed, however large, so progress never stops.
pub(crate) struct Window {
    jobs_max: usize,
    bytes_max: u64,
    jobs: usize,
    bytes: u64,
}

impl Window {
    pub(crate) fn new(jobs_max: usize, bytes_max: u64) -> Self {
        Self { jobs_max, bytes_max, jobs: 0, bytes: 0 }
    }

    /// Reserves room for a job of `bytes`; `false` when the window is full.
    pub(crate) fn reserve(&mut self, bytes: u64) -> bool {
        let fits = self.jobs == 0
            || (self.jobs < self.jobs_max && self.bytes.saturating_add(bytes) <= self.bytes_max);
        if fits {
            self.jobs += 1;
            self.bytes = self.bytes.saturating_add(bytes);
        }
        fits
    }

    /// Gives back the room of a job whose result was taken (or dropped).
    pub(crate) fn release(&mut self, bytes: u64) {
        self.jobs = self.jobs.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_with_any_number_of_workers() {
        for count in [0, 1, 3] {
            let workers = Workers::new(count);
            let tickets: Vec<Ticket<usize>> = (0..50)
                .map(|i| {
                    workers.submit(move || {
                        // Later jobs finish first, so order cannot come from timing.
                        std::thread::sleep(std::time::Duration::from_micros(
                            ((50 - i) * 20) as u64,
                        ));
                        i * i
                    })
                })
                .collect();
            let results: Vec<usize> = tickets.into_iter().map(Ticket::take).collect();
            assert_eq!(results, (0..50).map(|i| i * i).collect::<Vec<_>>(), "{count} workers");
        }
    }

    #[test]
    fn in_order_keeps_item_order_and_skips_items_without_a_job() {
        let workers = Workers::new(2);
        let mut seen = Vec::new();
        let items: Vec<u64> = (0..40).collect();
        in_order(
            &workers,
            items,
            3,
            |&i| {
                (i % 5 != 0).then_some(move || {
                    std::thread::sleep(std::time::Duration::from_micros((40 - i) * 30));
                    i * 10
                })
            },
            |i, result| seen.push((i, result)),
        );
        let expected: Vec<(u64, Option<u64>)> =
            (0..40).map(|i| (i, (i % 5 != 0).then_some(i * 10))).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_panic_in_a_job_reaches_the_taker_and_the_pool_goes_on() {
        let workers = Workers::new(2);
        let bad = workers.submit(|| -> u32 { panic!("boom") });
        let caught = panic::catch_unwind(AssertUnwindSafe(|| bad.take()));
        assert!(caught.is_err());
        assert_eq!(workers.submit(|| 7).take(), 7);
        // A dropped ticket's job still runs and is not waited for.
        drop(workers.submit(|| 1));
        assert_eq!(workers.submit(|| 8).take(), 8);
    }

    #[test]
    fn the_window_bounds_jobs_and_bytes_but_always_allows_one() {
        let mut window = Window::new(2, 100);
        assert!(window.reserve(1_000));
        assert!(!window.reserve(1));
        window.release(1_000);
        assert!(window.reserve(60));
        assert!(!window.reserve(41));
        assert!(window.reserve(40));
        assert!(!window.reserve(0));
        window.release(60);
        assert!(window.reserve(0));
    }
}
