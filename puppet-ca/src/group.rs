//! Group commit: threads that want the same durable step done (reserve serials, record and
//! publish certificates) hand their jobs to whichever of them is the leader, which does the
//! step once for every job waiting, with one set of fsyncs, and wakes them all.
//!
//! No thread of its own: the first caller to find no leader becomes it, takes the queue,
//! runs the step outside the queue's mutex (so that new jobs queue up meanwhile), hands out
//! the results and steps down; a caller still waiting then leads the next batch.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

/// A queue of jobs `J` whose step gives one `R` per job.
pub(crate) struct Group<J, R> {
    state: Mutex<State<J, R>>,
    done: Condvar,
}

struct State<J, R> {
    queue: Vec<(u64, J)>,
    /// Results by ticket; `None` when the leader that took the job panicked.
    results: HashMap<u64, Option<R>>,
    leading: bool,
    next_ticket: u64,
}

impl<J, R> Default for Group<J, R> {
    fn default() -> Self {
        Group {
            state: Mutex::new(State {
                queue: Vec::new(),
                results: HashMap::new(),
                leading: false,
                next_ticket: 0,
            }),
            done: Condvar::new(),
        }
    }
}

impl<J, R> Group<J, R> {
    fn lock(&self) -> MutexGuard<'_, State<J, R>> {
        // The state stays consistent across a panic (see `Abandon`): poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` and returns its result once a leader (maybe this thread) has run `step`
    /// on a batch holding it. `step` gets the batch in queue order and must return one result
    /// per job, in the same order. `None` if the leader panicked in `step`.
    pub(crate) fn run(&self, job: J, step: impl Fn(Vec<J>) -> Vec<R>) -> Option<R> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push((ticket, job));
        loop {
            if let Some(result) = state.results.remove(&ticket) {
                return result;
            }
            if state.leading {
                state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.leading = true;
            let (tickets, jobs): (Vec<u64>, Vec<J>) =
                std::mem::take(&mut state.queue).into_iter().unzip();
            drop(state);
            let mut abandon = Abandon {
                group: self,
                own: ticket,
                tickets: Some(tickets),
            };
            let results = step(jobs);
            let tickets = abandon.tickets.take().unwrap_or_default();
            drop(abandon);
            state = self.lock();
            let mut results = results.into_iter();
            for t in tickets {
                // A step that returned too few results leaves the rest as if it panicked.
                let r = results.next();
                state.results.insert(t, r);
            }
            state.leading = false;
            self.done.notify_all();
        }
    }
}

/// Clears the leader's state if its step panics: the jobs it took get `None`, and a waiting
/// caller can lead the next batch.
struct Abandon<'a, J, R> {
    group: &'a Group<J, R>,
    /// The leader's own ticket: its panic goes on up, no result is kept for it.
    own: u64,
    tickets: Option<Vec<u64>>,
}

impl<J, R> Drop for Abandon<'_, J, R> {
    fn drop(&mut self) {
        if let Some(tickets) = self.tickets.take() {
            let mut state = self.group.lock();
            for t in tickets.into_iter().filter(|t| *t != self.own) {
                state.results.insert(t, None);
            }
            state.leading = false;
            self.group.done.notify_all();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn every_job_gets_its_own_result_and_batches_form_under_load() {
        let group = Group::<u64, u64>::default();
        let steps = AtomicUsize::new(0);
        let step = |jobs: Vec<u64>| {
            steps.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            jobs.into_iter().map(|j| j * 10).collect()
        };
        std::thread::scope(|s| {
            for i in 0..16u64 {
                let (group, step) = (&group, &step);
                s.spawn(move || assert_eq!(group.run(i, step), Some(i * 10)));
            }
        });
        let steps = steps.load(Ordering::SeqCst);
        assert!(steps < 16, "16 callers at once share steps ({steps} steps)");
        assert!(group.lock().results.is_empty() && group.lock().queue.is_empty());
    }

    #[test]
    fn a_panicking_step_fails_its_batch_and_the_next_caller_leads() {
        let group = Group::<u64, u64>::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            group.run(1, |_| panic!("step failed"))
        }));
        assert!(panicked.is_err());
        assert_eq!(group.run(2, |jobs| jobs), Some(2));
        assert_eq!(
            group.run(3, |_| Vec::new()),
            None,
            "a missing result is None"
        );
    }
}
