//! [`LowPriority`]: threads at the lowest scheduling priority (nice 19) for bulk work that
//! must never delay the API, such as parsing statistics reports of tens of megabytes. They
//! use the CPU time the API's workers leave, and run at full speed when those are idle.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;

/// Nice value of the threads: the lowest priority a process may give itself.
const NICENESS: i32 = 19;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug)]
pub struct LowPriority {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl LowPriority {
    /// `threads` threads named `name`; they end once the pool is dropped and their job done.
    pub fn new(name: &str, threads: usize) -> anyhow::Result<LowPriority> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || work(&receiver))
                .with_context(|| format!("cannot start a {name} thread"))?;
        }
        Ok(LowPriority {
            jobs: sender,
            threads: threads.max(1),
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on one of the threads and returns its result.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone; the result is then dropped.
            let _ = reply.send(job());
        });
        self.jobs
            .send(job)
            .map_err(|_| anyhow::anyhow!("the low-priority threads have stopped"))?;
        result
            .await
            .map_err(|_| anyhow::anyhow!("a low-priority job panicked"))
    }
}

fn work(jobs: &Mutex<mpsc::Receiver<Job>>) {
    let thread = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(thread), NICENESS) {
        tracing::warn!(%error, "cannot lower this thread's priority; its work competes with the API");
    }
    loop {
        // The lock is held only while waiting, so one thread takes each job.
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            // A job that panics loses its answer (the caller sees the error), not the thread.
            Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
            Err(mpsc::RecvError) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_threads_at_nice_19() {
        let pool = LowPriority::new("test-low", 2).unwrap();
        let (name, nice) = pool
            .run(|| {
                let thread = rustix::thread::gettid();
                let nice = rustix::process::getpriority_process(Some(thread)).unwrap();
                (std::thread::current().name().map(str::to_owned), nice)
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("test-low"));
        assert_eq!(nice, NICENESS);
        let sum = pool.run(|| (1..=10).sum::<i32>()).await.unwrap();
        assert_eq!(sum, 55);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_threads_go_on() {
        let pool = LowPriority::new("test-panic", 1).unwrap();
        let error: anyhow::Result<()> = pool.run(|| panic!("a bad job")).await;
        assert!(error.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
