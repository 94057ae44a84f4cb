//! The node-wide script gate: while a Lua script runs, no other client's
//! command runs on this node, as in Redis, where a script runs alone.
//!
//! Cores do not share locks on the hot path, so the gate is a handful of
//! atomics. Every command checks one flag (`running`); only when a script
//! holds the gate does a connection take the slow path: it waits, and once
//! the script has run longer than `busy-reply-threshold` (`lua-time-limit`)
//! it answers `-BUSY` instead, except for the commands Redis lets through
//! (`allow_busy`: SCRIPT KILL, MULTI, WATCH ...).
//!
//! A flag alone does not make a script atomic: a connection may have
//! checked it just before the script took the gate and still be running
//! its commands. So every connection marks itself in flight (one padded
//! counter per core, written only by its core) while it runs a batch, and
//! a script, once it holds the gate, waits until it is the only one in
//! flight. The store of one side and the load of the other are SeqCst, so
//! either the connection sees `running` or the script sees the connection.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::task::Waker;
use std::time::Duration;
use std::time::Instant;

/// Redis's reply to a command sent while a script is busy.
pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// How long a script waits for commands already in flight to end before
/// it runs anyway (and logs it). Batches end in microseconds; this only
/// guards against a connection stuck somewhere the gate does not know.
const QUIESCE_LIMIT: Duration = Duration::from_secs(2);

/// One core's in-flight count, on its own cache line.
#[repr(align(128))]
#[derive(Default)]
struct Counter(AtomicUsize);

pub struct ScriptGate {
    running: AtomicBool,
    /// The running script is past the busy threshold: others get -BUSY.
    busy: AtomicBool,
    /// Number of the running (or last) script; each `acquire` takes the next.
    run_id: AtomicU64,
    /// The run SCRIPT KILL asked to stop (0: none). A number, not a flag,
    /// so a kill that arrives as one script ends can't stop the next one.
    kill_run: AtomicU64,
    /// The running script has written: SCRIPT KILL refuses (UNKILLABLE).
    wrote: AtomicBool,
    /// `busy-reply-threshold` / `lua-time-limit`, ms.
    pub limit_ms: AtomicU64,
    inflight: Box<[Counter]>,
    /// Connections waiting for the gate (only ever touched while a script
    /// runs, never on the hot path).
    waiters: Mutex<Vec<Waker>>,
}

impl ScriptGate {
    pub fn new(cores: usize) -> Self {
        ScriptGate {
            running: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            run_id: AtomicU64::new(0),
            kill_run: AtomicU64::new(0),
            wrote: AtomicBool::new(false),
            limit_ms: AtomicU64::new(5000),
            inflight: (0..cores.max(1)).map(|_| Counter::default()).collect(),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// True while a script holds the node: the one check on the hot path.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// Marks a connection of `core` in flight until the guard drops.
    pub fn enter(&self, core: usize) -> InFlight<'_> {
        self.add(core, 1);
        InFlight { gate: self, core }
    }

    /// Marks a connection of `core` in flight once no script holds the
    /// gate, polling every `pause` (the retries of blocking commands: they
    /// are not woken by the gate, and a script is rare).
    pub async fn enter_when_free(&self, core: usize, pause: Duration) -> InFlight<'_> {
        loop {
            let entered = self.enter(core);
            if !self.running() {
                return entered;
            }
            drop(entered);
            glommio::timer::sleep(pause).await;
        }
    }

    /// Takes a connection of `core` out of flight until the guard drops
    /// (while it waits for the gate, or blocks in BLPOP...).
    pub fn pause(&self, core: usize) -> Paused<'_> {
        self.sub(core);
        Paused { gate: self, core }
    }

    fn counter(&self, core: usize) -> &AtomicUsize {
        &self.inflight[core % self.inflight.len()].0
    }

    fn add(&self, core: usize, n: usize) {
        // Only this core writes its counter: a plain load and store, no
        // locked read-modify-write; SeqCst orders it before `running`'s load.
        let c = self.counter(core);
        c.store(c.load(Ordering::Relaxed) + n, Ordering::SeqCst);
    }

    fn sub(&self, core: usize) {
        // Leaving flight needs no SeqCst fence (an `xchg` on x86): a
        // script only waits for the count to drop, and Release makes what
        // the connection did visible to the script's SeqCst load that sees
        // it drop. Only entering must be ordered before the `running` check.
        let c = self.counter(core);
        c.store(
            c.load(Ordering::Relaxed).saturating_sub(1),
            Ordering::Release,
        );
    }

    fn total_inflight(&self) -> usize {
        self.inflight
            .iter()
            .map(|c| c.0.load(Ordering::SeqCst))
            .sum()
    }

    /// Waits until no script holds the gate (true) or the one that does is
    /// busy (false: the caller answers -BUSY).
    pub async fn wait(&self) -> bool {
        std::future::poll_fn(|cx| {
            if !self.running() {
                return Poll::Ready(true);
            }
            if self.busy() {
                return Poll::Ready(false);
            }
            if let Ok(mut w) = self.waiters.lock() {
                w.push(cx.waker().clone());
            }
            // Checked again after registering: a release in between has
            // already drained the list without this waker.
            if !self.running() {
                Poll::Ready(true)
            } else if self.busy() {
                Poll::Ready(false)
            } else {
                Poll::Pending
            }
        })
        .await
    }

    fn wake_all(&self) {
        let wakers = self
            .waiters
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        for w in wakers {
            w.wake();
        }
    }

    /// Takes the gate for a script run by a connection of `core` (which is
    /// in flight itself), once every other command in flight has ended.
    /// Err(()) when another script holds it and is busy.
    pub async fn acquire(&self, core: usize) -> Result<Held<'_>, ()> {
        loop {
            if self
                .running
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                break;
            }
            let _paused = self.pause(core);
            if !self.wait().await {
                return Err(());
            }
        }
        let held = Held {
            gate: self,
            id: self.run_id.fetch_add(1, Ordering::SeqCst) + 1,
        };
        let deadline = Instant::now() + QUIESCE_LIMIT;
        while self.total_inflight() > 1 {
            if Instant::now() > deadline {
                tracing::warn!("script started while other commands were still running");
                break;
            }
            glommio::timer::sleep(Duration::from_micros(20)).await;
        }
        Ok(held)
    }

    /// SCRIPT KILL: Ok when the running script was asked to stop.
    pub fn kill(&self) -> Result<(), KillError> {
        let id = self.run_id.load(Ordering::SeqCst);
        if !self.running() {
            return Err(KillError::NotBusy);
        }
        if self.wrote.load(Ordering::SeqCst) {
            return Err(KillError::Unkillable);
        }
        self.kill_run.store(id, Ordering::SeqCst);
        Ok(())
    }

    /// SCRIPT KILL asked run `id` to stop.
    pub fn killed(&self, id: u64) -> bool {
        self.kill_run.load(Ordering::SeqCst) == id
    }
}

/// Why SCRIPT KILL did nothing.
pub enum KillError {
    NotBusy,
    Unkillable,
}

impl KillError {
    pub fn text(&self) -> &'static str {
        match self {
            KillError::NotBusy => "NOTBUSY No scripts in execution right now.",
            KillError::Unkillable => {
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
            }
        }
    }
}

/// A connection in flight; leaves on drop.
pub struct InFlight<'a> {
    gate: &'a ScriptGate,
    core: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.gate.sub(self.core);
    }
}

/// A connection out of flight for a while; back in flight on drop.
pub struct Paused<'a> {
    gate: &'a ScriptGate,
    core: usize,
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        self.gate.add(self.core, 1);
    }
}

/// The gate, held by a running script; released on drop (also when the
/// script's connection goes away mid-run).
pub struct Held<'a> {
    gate: &'a ScriptGate,
    id: u64,
}

impl Held<'_> {
    /// This run's number (what SCRIPT KILL names).
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// When the running script started and last let its core run others.
pub struct RunClock {
    /// The run's number (see [`Held::id`]).
    pub id: u64,
    started: Instant,
    last_yield: std::cell::Cell<Instant>,
}

impl RunClock {
    pub fn start(id: u64) -> Self {
        let now = Instant::now();
        RunClock {
            id,
            started: now,
            last_yield: std::cell::Cell::new(now),
        }
    }
}

/// What the script's instruction hook should do.
#[derive(Debug, PartialEq, Eq)]
pub enum Tick {
    Continue,
    /// Let the core run other tasks (they will wait, or answer -BUSY).
    Yield,
    Killed,
}

impl ScriptGate {
    /// Called from the running script's Lua hook every few thousand
    /// instructions.
    pub fn tick(&self, clock: &RunClock) -> Tick {
        if self.killed(clock.id) {
            return Tick::Killed;
        }
        let now = Instant::now();
        let limit = self.limit_ms.load(Ordering::Relaxed);
        // A limit of 0 turns the busy state off, as in Redis.
        if limit > 0
            && !self.busy()
            && now.duration_since(clock.started) >= Duration::from_millis(limit)
        {
            self.busy.store(true, Ordering::SeqCst);
            self.wake_all();
        }
        // A long script lets its core serve other clients every
        // millisecond, so they can be answered -BUSY and SCRIPT KILL can
        // reach it from a connection on the same core.
        if now.duration_since(clock.last_yield.get()) >= Duration::from_millis(1) {
            clock.last_yield.set(now);
            return Tick::Yield;
        }
        Tick::Continue
    }

    /// The running script ran a write command: it can no longer be killed.
    pub fn mark_wrote(&self) {
        self.wrote.store(true, Ordering::SeqCst);
    }

    /// The running script has written.
    pub fn wrote(&self) -> bool {
        self.wrote.load(Ordering::SeqCst)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let g = self.gate;
        g.wrote.store(false, Ordering::SeqCst);
        g.busy.store(false, Ordering::SeqCst);
        g.running.store(false, Ordering::SeqCst);
        g.wake_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_needs_a_running_script_that_has_not_written() {
        let g = ScriptGate::new(2);
        assert!(matches!(g.kill(), Err(KillError::NotBusy)));
        g.running.store(true, Ordering::SeqCst);
        g.wrote.store(true, Ordering::SeqCst);
        assert!(matches!(g.kill(), Err(KillError::Unkillable)));
        g.wrote.store(false, Ordering::SeqCst);
        g.run_id.store(7, Ordering::SeqCst);
        assert!(g.kill().is_ok());
        assert_eq!(g.tick(&RunClock::start(7)), Tick::Killed);
        // The kill named run 7; run 8 is not stopped by it.
        assert_ne!(g.tick(&RunClock::start(8)), Tick::Killed);
    }

    #[test]
    fn a_script_past_the_limit_makes_waiters_busy() {
        let g = ScriptGate::new(1);
        g.running.store(true, Ordering::SeqCst);
        g.limit_ms.store(1, Ordering::Relaxed);
        assert!(!g.busy());
        let clock = RunClock::start(1);
        std::thread::sleep(Duration::from_millis(2));
        assert_ne!(g.tick(&clock), Tick::Killed);
        assert!(g.busy());
    }

    #[test]
    fn in_flight_guards_pair_up() {
        let g = ScriptGate::new(2);
        {
            let _a = g.enter(0);
            let _b = g.enter(1);
            assert_eq!(g.total_inflight(), 2);
            {
                let _p = g.pause(1);
                assert_eq!(g.total_inflight(), 1);
            }
            assert_eq!(g.total_inflight(), 2);
        }
        assert_eq!(g.total_inflight(), 0);
    }
}
