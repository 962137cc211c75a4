//! A short, bounded spin after each reply, so a burst of requests does not pay a wake each.
//!
//! A synchronous FUSE request puts the caller to sleep and wakes the daemon's thread; when
//! that thread is blocked in `read(/dev/fuse)` and its vCPU has halted, the wake goes
//! through the hypervisor (tens of µs on a VM with guest halt polling off). A file write is
//! a burst of such requests (LOOKUP, CREATE, WRITE...), each sent a few µs after the
//! previous reply. After replying, the thread polls the device without blocking for at most
//! the budget, yielding the CPU to any other runnable task between polls, and returns as
//! soon as a request is queued (the session's blocking read then returns at once). It stops
//! early when other tasks ran during its yields: a busy CPU does not halt, so blocking
//! costs no hypervisor wake there, and the spin would only delay that work. The CPU it
//! costs is bounded by the budget per request and counted ([`LingerStats`]).

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Wall time beyond the spin's own CPU time after which it stops: other tasks were
/// running on its CPU while it yielded, so the CPU is busy and will not halt.
const BUSY_SLACK: Duration = Duration::from_micros(5);

/// What the spin cost and what it caught.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LingerStats {
    /// Spins started (one after each reply while a budget is set).
    pub spins: u64,
    /// Spins that saw the next request arrive within the budget.
    pub hits: u64,
    /// Wall time spent spinning, in nanoseconds (including time other tasks ran on the
    /// CPU while the spin yielded to them).
    pub spun_ns: u64,
    /// CPU time the spinning thread used, in nanoseconds: what the spin costs the machine.
    pub cpu_ns: u64,
}

fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec for the calling thread's CPU clock.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    (now.tv_sec as u64).saturating_mul(1_000_000_000) + now.tv_nsec as u64
}

/// The spin of one mount: the device to poll, the budget, the counters.
#[derive(Debug)]
pub struct Linger {
    budget: Duration,
    raw: AtomicI32,
    device: Mutex<Option<OwnedFd>>,
    spins: AtomicU64,
    hits: AtomicU64,
    spun_ns: AtomicU64,
    cpu_ns: AtomicU64,
}

impl Linger {
    /// A spin of at most `budget` after each reply (zero: never spin).
    pub fn new(budget: Duration) -> Self {
        Self {
            budget,
            raw: AtomicI32::new(-1),
            device: Mutex::new(None),
            spins: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            spun_ns: AtomicU64::new(0),
            cpu_ns: AtomicU64::new(0),
        }
    }

    /// Poll `device` (a duplicate of the session's /dev/fuse descriptor) from now on.
    pub fn attach(&self, device: OwnedFd) {
        self.raw.store(device.as_raw_fd(), Ordering::Release);
        *self.device.lock().unwrap_or_else(PoisonError::into_inner) = Some(device);
    }

    /// Stop polling and close the duplicate; call only once the session thread has ended.
    pub fn detach(&self) {
        self.raw.store(-1, Ordering::Release);
        self.device
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Spin until a request is queued or the budget is spent.
    pub fn linger(&self) {
        let fd = self.raw.load(Ordering::Acquire);
        if fd < 0 || self.budget.is_zero() {
            return;
        }
        let start = Instant::now();
        let cpu_start = thread_cpu_ns();
        let hit = loop {
            let mut pollfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, zero timeout; the descriptor outlives the session
            // thread that calls this (closed by `detach` only after it has ended).
            let ready = unsafe { libc::poll(&mut pollfd, 1, 0) };
            if ready != 0 {
                break ready > 0; // a request, or an error the session's read will report
            }
            let waited = start.elapsed();
            if waited >= self.budget {
                break false;
            }
            // Other tasks ran while this one yielded: the CPU has work, blocking will not
            // let it halt, and the spin would only take time from that work.
            let cpu = Duration::from_nanos(thread_cpu_ns().saturating_sub(cpu_start));
            if waited.saturating_sub(cpu) > BUSY_SLACK {
                break false;
            }
            std::thread::yield_now();
        };
        let cpu = thread_cpu_ns().saturating_sub(cpu_start);
        let spun = start.elapsed().as_nanos() as u64;
        self.cpu_ns.fetch_add(cpu, Ordering::Relaxed);
        self.spins.fetch_add(1, Ordering::Relaxed);
        self.hits.fetch_add(u64::from(hit), Ordering::Relaxed);
        self.spun_ns.fetch_add(spun, Ordering::Relaxed);
    }

    /// The counters so far.
    pub fn stats(&self) -> LingerStats {
        LingerStats {
            spins: self.spins.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            spun_ns: self.spun_ns.load(Ordering::Relaxed),
            cpu_ns: self.cpu_ns.load(Ordering::Relaxed),
        }
    }
}

/// Spins after its owner's reply when dropped: declared first in a request handler, it
/// drops last, after the reply is sent and the table lock released.
pub(crate) struct AfterReply<'a>(pub(crate) &'a Linger);

impl Drop for AfterReply<'_> {
    fn drop(&mut self) {
        self.0.linger();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_or_zero_budget_linger_returns_at_once() {
        let linger = Linger::new(Duration::ZERO);
        linger.linger();
        assert_eq!(linger.stats(), LingerStats::default());
        let linger = Linger::new(Duration::from_millis(1));
        linger.linger();
        assert_eq!(linger.stats(), LingerStats::default());
    }

    #[test]
    fn the_spin_ends_on_a_readable_descriptor_and_counts() {
        let mut fds = [0; 2];
        // SAFETY: a two-element array for pipe(2).
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh descriptors from pipe(2), each owned once.
        let (read, write) = unsafe {
            use std::os::fd::FromRawFd;
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        };
        let linger = Linger::new(Duration::from_micros(200));
        linger.attach(read);
        linger.linger(); // nothing to read: ends at the budget (or early on a busy CPU)
        assert_eq!((linger.stats().spins, linger.stats().hits), (1, 0));
        // SAFETY: one byte from a valid buffer into a valid pipe.
        assert_eq!(
            unsafe { libc::write(write.as_raw_fd(), b"x".as_ptr().cast(), 1) },
            1
        );
        linger.linger();
        let stats = linger.stats();
        assert_eq!((stats.spins, stats.hits), (2, 1));
        assert!(stats.cpu_ns <= stats.spun_ns + 1_000_000);
        linger.detach();
        linger.linger();
        assert_eq!(linger.stats().spins, 2);
    }
}
