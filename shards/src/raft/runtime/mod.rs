//! openraft's `AsyncRuntime` on glommio, so a shard's Raft group runs on the
//! shard's own executor: no tokio runtime, no `Send` bound (openraft's
//! `single-threaded` feature).
//!
//! Started from the verified prototype in `shared/reference/rt-glommio`.
//! Channels and the mutex reuse openraft-rt-tokio's wrappers around
//! `tokio::sync`, which are runtime-agnostic futures (no tokio reactor).
//!
//! Two glommio facts shape it:
//! - a glommio `Task` cancels itself when dropped, while openraft drops join
//!   handles expecting tokio's detach, so `spawn` detaches at once;
//! - glommio's own `spawn_blocking` future is `!Send` and cannot back the
//!   trait's, so the trait default (a thread per call) stays; the log store
//!   does its fsyncs on a per-core thread instead.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::task::Poll;
use std::time::Duration;
use std::time::Instant;

use glommio::timer::Timer;
use openraft_rt::AsyncRuntime;
use openraft_rt::OptionalSend;
use openraft_rt_tokio::TokioMpsc;
use openraft_rt_tokio::TokioMutex;
use openraft_rt_tokio::TokioOneshot;
use openraft_rt_tokio::TokioWatch;

/// The runtime handle openraft creates for tests (`new` + `block_on`); in
/// the server Raft runs on the shard executors started by `main`.
pub struct GlommioRuntime {
    ex: glommio::LocalExecutor,
}

impl fmt::Debug for GlommioRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GlommioRuntime")
    }
}

/// A spawned task ended without a value (it was cancelled).
#[derive(Debug)]
pub struct GlommioJoinError;

impl fmt::Display for GlommioJoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("glommio task cancelled")
    }
}

/// Join handle of a detached glommio task.
pub struct GlommioJoinHandle<T>(glommio::task::JoinHandle<T>);

impl<T> Future for GlommioJoinHandle<T> {
    type Output = Result<T, GlommioJoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|o| o.ok_or(GlommioJoinError))
    }
}

pub struct GlommioSleep(Timer);

impl Future for GlommioSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// A timeout expired.
#[derive(Debug)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

pin_project_lite::pin_project! {
    pub struct GlommioTimeout<F> {
        #[pin]
        fut: F,
        timer: Timer,
    }
}

impl<F: Future> Future for GlommioTimeout<F> {
    type Output = Result<F::Output, Elapsed>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.fut.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        Pin::new(this.timer).poll(cx).map(|_| Err(Elapsed))
    }
}

fn until(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

impl AsyncRuntime for GlommioRuntime {
    type JoinError = GlommioJoinError;
    type JoinHandle<T: OptionalSend + 'static> = GlommioJoinHandle<T>;
    type Sleep = GlommioSleep;
    type Instant = Instant;
    type TimeoutError = Elapsed;
    type Timeout<R, T: Future<Output = R> + OptionalSend> = GlommioTimeout<T>;
    type ThreadLocalRng = rand_rt::rngs::ThreadRng;
    type Mpsc = TokioMpsc;
    type Watch = TokioWatch;
    type Oneshot = TokioOneshot;
    type Mutex<T: OptionalSend + 'static> = TokioMutex<T>;

    fn spawn<T>(future: T) -> Self::JoinHandle<T::Output>
    where
        T: Future + OptionalSend + 'static,
        T::Output: OptionalSend + 'static,
    {
        GlommioJoinHandle(glommio::spawn_local(future).detach())
    }

    fn sleep(d: Duration) -> Self::Sleep {
        GlommioSleep(Timer::new(d))
    }

    fn sleep_until(deadline: Instant) -> Self::Sleep {
        GlommioSleep(Timer::new(until(deadline)))
    }

    fn timeout<R, F: Future<Output = R> + OptionalSend>(
        d: Duration,
        fut: F,
    ) -> Self::Timeout<R, F> {
        GlommioTimeout {
            fut,
            timer: Timer::new(d),
        }
    }

    fn timeout_at<R, F: Future<Output = R> + OptionalSend>(
        deadline: Instant,
        fut: F,
    ) -> Self::Timeout<R, F> {
        GlommioTimeout {
            fut,
            timer: Timer::new(until(deadline)),
        }
    }

    /// glommio propagates a task's panic instead of reporting it.
    fn is_panic(_: &Self::JoinError) -> bool {
        false
    }

    fn thread_rng() -> Self::ThreadLocalRng {
        rand_rt::rng()
    }

    fn new(_threads: usize) -> Self {
        let ex = glommio::LocalExecutorBuilder::default()
            .make()
            .expect("glommio LocalExecutor");
        GlommioRuntime { ex }
    }

    fn block_on<F, T>(&mut self, future: F) -> T
    where
        F: Future<Output = T>,
    {
        self.ex.run(future)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;
    use std::time::Instant;

    use openraft_rt::AsyncRuntime;

    use super::GlommioRuntime;

    /// openraft's runtime conformance suite.
    #[test]
    fn conformance_suite() {
        openraft_rt::testing::Suite::<GlommioRuntime>::test_all();
    }

    /// A task woken from another OS thread (how the fsync thread completes
    /// a flush) runs; dropping a join handle does not cancel the task.
    #[test]
    fn foreign_wake_and_detached_spawn() {
        GlommioRuntime::run(async {
            let (tx, rx) = flume::bounded::<u32>(1);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                let _ = tx.send(7);
            });
            let started = Instant::now();
            assert_eq!(rx.recv_async().await.ok(), Some(7));
            assert!(started.elapsed() < Duration::from_secs(5));

            let (done_tx, done_rx) = flume::bounded::<()>(1);
            drop(GlommioRuntime::spawn(async move {
                GlommioRuntime::sleep(Duration::from_millis(5)).await;
                let _ = done_tx.send(());
            }));
            assert!(
                GlommioRuntime::timeout(Duration::from_secs(5), done_rx.recv_async())
                    .await
                    .is_ok()
            );
        });
    }
}
