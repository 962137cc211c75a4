//! Sentinel's kernel probe: load the agent probe (CO-RE eBPF on BTF tracepoints), attach it,
//! register agent cgroups, and collect what it reports.
//!
//! One background thread owns the loaded object, its links and the ring buffer: libbpf's
//! object is not `Send`, and the ring buffer borrows its map. The thread loads and attaches,
//! hands back owned handles of the two maps userspace writes and reads (`agent_cgroups`,
//! `agent_counters`), then copies records from the ring buffer into a bounded queue every
//! `POLL_MS`, whenever `drain` asks (it rings a waker, an eventfd, and waits until the ring
//! has been read), and when the programs wake it because the ring is filling; `close` sets
//! the stop flag and rings the waker; dropping the links on stop detaches every program.
//! `set_attached` has the thread drop the links or attach the programs again while the maps
//! stay (the probe's cost is measured by switching it within one run).
//! Records stay raw bytes here; the Python side (`sentinel/probes/records.py`) decodes them,
//! so the layout has one reader.

use std::collections::{HashSet, VecDeque};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use libbpf_rs::{Link, MapCore, MapFlags, MapHandle, ObjectBuilder, RingBufferBuilder};

/// The compiled BPF object (built by build.rs from bpf/agent_probe.bpf.c).
static OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/agent_probe.bpf.o"));

/// How often the thread reads the ring buffer on its own. The programs submit without waking
/// it (`submit` in bpf/agent_probe.bpf.c) unless the ring fills past 512 KiB, and `drain`
/// has the thread read the ring before it takes the queue, so a record waits here at most
/// this long only for a reader that does not drain (the recorder drains every 0.5 s). A
/// wakeup per record cost the main job ~400 sleeps and wakes of this thread a second.
const POLL_MS: libc::c_int = 100;
/// How long `drain` waits for the thread to read the ring before it takes what is queued.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// How long `set_attached` waits for the thread to attach or detach the programs.
const SWITCH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The `epoll` tokens of the ring buffer and the waker.
const RING: u64 = 0;
const WAKER: u64 = 1;

/// Entries of the programs' `watch_filter` (`FILTER_BUCKETS` in bpf/agent_probe.bpf.c).
const FILTER_BUCKETS: u64 = 4096;

/// A loaded, attached agent probe.
pub struct AgentProbe {
    cgroups: MapHandle,
    filter: MapHandle,
    /// The cgroup ids in `agent_cgroups`, each counted once in `filter`; the lock also makes
    /// each count's read and write one step.
    watched: Mutex<HashSet<u64>>,
    counters: MapHandle,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    programs: Vec<String>,
}

/// What the owner and the worker thread share.
struct Shared {
    queue: Mutex<VecDeque<Vec<u8>>>,
    capacity: usize,
    lost: AtomicU64,
    stop: AtomicBool,
    /// An eventfd the worker waits on beside the ring buffer: `drain`, `set_attached` and
    /// `close` write to it.
    waker: OwnedFd,
    /// The reads of the ring `drain` asked for and the ones the worker finished.
    reads: Reads,
    /// Whether the programs are attached (`set_attached` detaches them for a while).
    attachment: Attachment,
}

/// What the loader thread sends back once the programs are attached (or why not).
type Loaded = Result<(MapHandle, MapHandle, MapHandle, Vec<String>), String>;

fn map_handle(object: &libbpf_rs::Object, name: &str) -> Result<MapHandle, String> {
    let map = object
        .maps()
        .find(|map| map.name() == name)
        .ok_or_else(|| format!("the BPF object has no map {name}"))?;
    MapHandle::try_from(&map).map_err(|err| format!("map {name}: {err}"))
}

fn load_and_attach() -> Result<(libbpf_rs::Object, Vec<Link>, Vec<String>), String> {
    let open = ObjectBuilder::default()
        .open_memory(OBJECT)
        .map_err(|err| format!("opening the BPF object: {err}"))?;
    let mut object = open
        .load()
        .map_err(|err| format!("loading the BPF programs (the verifier or BTF refused): {err}"))?;
    let programs = object
        .progs()
        .map(|program| program.name().to_string_lossy().into_owned())
        .collect();
    let links = attach_all(&mut object)?;
    Ok((object, links, programs))
}

/// Attach every program of the loaded object; dropping the links detaches them again.
fn attach_all(object: &mut libbpf_rs::Object) -> Result<Vec<Link>, String> {
    object
        .progs_mut()
        .map(|program| {
            let name = program.name().to_string_lossy().into_owned();
            program
                .attach()
                .map_err(|err| format!("attaching {name}: {err}"))
        })
        .collect()
}

/// Whether the programs should be attached (`set_attached`), whether they are, and why the
/// worker could not attach them.
struct Attachment {
    state: Mutex<AttachState>,
    changed: Condvar,
}

struct AttachState {
    wanted: bool,
    attached: bool,
    error: Option<String>,
}

impl Default for Attachment {
    fn default() -> Self {
        Self {
            state: Mutex::new(AttachState {
                wanted: true,
                attached: true,
                error: None,
            }),
            changed: Condvar::new(),
        }
    }
}

impl Attachment {
    fn lock(&self) -> std::sync::MutexGuard<'_, AttachState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// In the worker: attach or detach as asked.
    fn follow(&self, object: &mut libbpf_rs::Object, links: &mut Vec<Link>) {
        let mut state = self.lock();
        if state.wanted == state.attached {
            return;
        }
        if state.wanted {
            match attach_all(object) {
                Ok(attached) => {
                    *links = attached;
                    state.attached = true;
                }
                Err(message) => {
                    state.wanted = false;
                    state.error = Some(message);
                }
            }
        } else {
            links.clear(); // detaches every program
            state.attached = false;
        }
        self.changed.notify_all();
    }

    /// The worker ended: nothing is attached, nobody waits for it.
    fn end(&self) {
        let mut state = self.lock();
        state.attached = false;
        state.wanted = false;
        self.changed.notify_all();
    }
}

/// Requests to read the ring (`asked`, a ticket per `drain`) and the newest ticket whose
/// read has finished (`done`, `u64::MAX` once the worker ended).
#[derive(Default)]
struct Reads {
    asked: AtomicU64,
    done: Mutex<u64>,
    finished: Condvar,
}

impl Reads {
    fn publish(&self, ticket: u64) {
        let mut done = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *done = (*done).max(ticket);
        self.finished.notify_all();
    }

    /// Wait until `ticket` was served or `DRAIN_WAIT` passed.
    fn wait(&self, ticket: u64) {
        let deadline = std::time::Instant::now() + DRAIN_WAIT;
        let mut done = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *done < ticket {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            done = self
                .finished
                .wait_timeout(done, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

/// Ring the waker (an eventfd): one more on its counter.
fn ring_waker(waker: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: the waker is an open eventfd; `one` is the 8 bytes an eventfd write takes. A
    // failed write (the counter full) leaves it readable, which is all a ring is for.
    let _ = unsafe { libc::write(waker.as_raw_fd(), one.as_ptr().cast(), one.len()) };
}

/// Reset the waker (non-blocking: nothing to read is fine).
fn clear_waker(waker: &OwnedFd) {
    let mut count = [0u8; 8];
    // SAFETY: the waker is an open non-blocking eventfd; `count` has the 8 bytes a read takes.
    let _ = unsafe { libc::read(waker.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
}

/// Marks every ticket served and the programs detached when the worker ends, however it
/// ends: nobody waits for it.
struct EndOfWorker<'a>(&'a Reads, &'a Attachment);

impl Drop for EndOfWorker<'_> {
    fn drop(&mut self) {
        self.0.publish(u64::MAX);
        self.1.end();
    }
}

fn run_worker(loaded: &mpsc::Sender<Loaded>, shared: &Shared) {
    let _end = EndOfWorker(&shared.reads, &shared.attachment);
    let (mut object, mut links, programs) = match load_and_attach() {
        Ok(parts) => parts,
        Err(message) => {
            let _ = loaded.send(Err(message));
            return;
        }
    };
    let handles = (|| {
        let events = map_handle(&object, "events")?;
        let cgroups = map_handle(&object, "agent_cgroups")?;
        let counters = map_handle(&object, "agent_counters")?;
        let filter = map_handle(&object, "watch_filter")?;
        Ok::<_, String>((events, cgroups, counters, filter))
    })();
    let (events, cgroups, counters, filter) = match handles {
        Ok(handles) => handles,
        Err(message) => {
            let _ = loaded.send(Err(message));
            return;
        }
    };
    let mut builder = RingBufferBuilder::new();
    let added = builder.add(&events, |record: &[u8]| {
        let mut queue = shared
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if queue.len() < shared.capacity {
            queue.push_back(record.to_vec());
        } else {
            shared.lost.fetch_add(1, Ordering::Relaxed);
        }
        0
    });
    let ring = match added.map(|_| ()).and_then(|()| builder.build()) {
        Ok(ring) => ring,
        Err(err) => {
            let _ = loaded.send(Err(format!("ring buffer: {err}")));
            return;
        }
    };
    let waits = match Waits::new(ring.epoll_fd(), shared.waker.as_raw_fd()) {
        Ok(waits) => waits,
        Err(err) => {
            let _ = loaded.send(Err(format!("waiting on the ring buffer: {err}")));
            return;
        }
    };
    if loaded
        .send(Ok((cgroups, filter, counters, programs)))
        .is_err()
    {
        return;
    }
    while !shared.stop.load(Ordering::Relaxed) {
        match waits.wait(POLL_MS) {
            Ok(()) => {
                // Reset the waker before reading the tickets: a `drain` that rings after
                // this read leaves the waker readable, so its read comes next round.
                clear_waker(&shared.waker);
                let ticket = shared.reads.asked.load(Ordering::Acquire);
                if ring.consume().is_err() {
                    break; // the owner sees a stopped worker through `running`
                }
                shared.reads.publish(ticket);
                shared.attachment.follow(&mut object, &mut links);
            }
            // A signal the process handles can land on this thread (Ctrl-C, SIGCHLD, a
            // timer): the wait is retried, the programs stay attached.
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = ring.consume(); // what arrived before stop
    drop(ring);
    drop(links); // detaches every program
    drop(object);
}

/// An epoll set of the ring buffer's own epoll descriptor and the waker.
struct Waits {
    epoll: OwnedFd,
}

impl Waits {
    fn new(ring: libc::c_int, waker: libc::c_int) -> std::io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new descriptor
        // this process owns, handed to OwnedFd at once.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is the fresh descriptor above, owned by nothing else.
        let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
        for (fd, token) in [(ring, RING), (waker, WAKER)] {
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: token,
            };
            // SAFETY: `epoll` and `fd` are open descriptors; `event` lives across the call.
            let added = unsafe {
                libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &raw mut event)
            };
            if added < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Self { epoll })
    }

    /// Wait up to `timeout_ms` for the ring buffer (filling up) or the waker.
    fn wait(&self, timeout_ms: libc::c_int) -> std::io::Result<()> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
        // SAFETY: `events` has room for the 2 entries the call may write.
        let count =
            unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 2, timeout_ms) };
        usize::try_from(count).map_err(|_| std::io::Error::last_os_error())?;
        Ok(())
    }
}

/// A new eventfd: the waker `close` rings.
fn new_waker() -> Result<OwnedFd, String> {
    // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor this
    // process owns, handed to OwnedFd at once.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if raw < 0 {
        return Err(format!(
            "creating the probe's waker: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `raw` is the fresh descriptor above, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

impl AgentProbe {
    /// Load and attach the probe; up to `capacity` records wait to be drained.
    ///
    /// # Errors
    /// The kernel refused to load or attach a program (not root, no BTF, an old kernel);
    /// the message says which step failed and why.
    pub fn start(capacity: usize) -> Result<Self, String> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            capacity,
            lost: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            waker: new_waker()?,
            reads: Reads::default(),
            attachment: Attachment::default(),
        });
        let (sender, receiver) = mpsc::channel();
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("sentinel-probe".into())
                .spawn(move || run_worker(&sender, &shared))
                .map_err(|err| format!("starting the probe thread: {err}"))?
        };
        match receiver.recv() {
            Ok(Ok((cgroups, filter, counters, programs))) => Ok(Self {
                cgroups,
                filter,
                watched: Mutex::new(HashSet::new()),
                counters,
                shared,
                worker: Some(worker),
                programs,
            }),
            Ok(Err(message)) => {
                let _ = worker.join();
                Err(message)
            }
            Err(_) => {
                let _ = worker.join();
                Err("the probe thread ended before loading".into())
            }
        }
    }

    /// The attached programs' names.
    #[must_use]
    pub fn programs(&self) -> &[String] {
        &self.programs
    }

    /// Report the processes of cgroup `cgroup_id` (a cgroup v2 id) as agent `slot`.
    ///
    /// # Errors
    /// The kernel refused the map update (the map is full).
    pub fn watch(&self, cgroup_id: u64, slot: u32) -> Result<(), String> {
        let mut watched = self
            .watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let new = !watched.contains(&cgroup_id);
        if new {
            // Counted before the id is in `agent_cgroups`: the filter never hides it.
            self.count(cgroup_id, 1)?;
        }
        let inserted = self
            .cgroups
            .update(&cgroup_id.to_ne_bytes(), &slot.to_ne_bytes(), MapFlags::ANY)
            .map_err(|err| format!("watching cgroup {cgroup_id}: {err}"));
        match inserted {
            Ok(()) => {
                watched.insert(cgroup_id);
                Ok(())
            }
            Err(message) => {
                if new {
                    let _ = self.count(cgroup_id, -1);
                }
                Err(message)
            }
        }
    }

    /// Add `delta` to the filter entry of `cgroup_id` (the caller holds `watched`).
    fn count(&self, cgroup_id: u64, delta: i64) -> Result<(), String> {
        #[allow(clippy::cast_possible_truncation)] // below FILTER_BUCKETS
        let bucket = ((cgroup_id % FILTER_BUCKETS) as u32).to_ne_bytes();
        let failed =
            |err: libbpf_rs::Error| format!("the watch filter of cgroup {cgroup_id}: {err}");
        let current = self
            .filter
            .lookup(&bucket, MapFlags::ANY)
            .map_err(failed)?
            .and_then(|bytes| <[u8; 4]>::try_from(bytes.as_slice()).ok())
            .map_or(0, u32::from_ne_bytes);
        let next = u32::try_from(i64::from(current) + delta).unwrap_or(0);
        self.filter
            .update(&bucket, &next.to_ne_bytes(), MapFlags::ANY)
            .map_err(failed)
    }

    /// Stop reporting cgroup `cgroup_id` (a no-op when it was not watched).
    ///
    /// # Errors
    /// The kernel refused the map update.
    pub fn unwatch(&self, cgroup_id: u64) -> Result<(), String> {
        let mut watched = self
            .watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.cgroups.delete(&cgroup_id.to_ne_bytes()) {
            Ok(()) => {}
            Err(err) if err.kind() == libbpf_rs::ErrorKind::NotFound => {}
            Err(err) => return Err(format!("unwatching cgroup {cgroup_id}: {err}")),
        }
        // Uncounted only after the id left `agent_cgroups`.
        if watched.remove(&cgroup_id) {
            self.count(cgroup_id, -1)?;
        }
        Ok(())
    }

    /// The kernel-side totals of agent `slot`, as raw bytes (None before its first event).
    ///
    /// # Errors
    /// The kernel refused the map lookup.
    pub fn totals(&self, slot: u32) -> Result<Option<Vec<u8>>, String> {
        self.counters
            .lookup(&slot.to_ne_bytes(), MapFlags::ANY)
            .map_err(|err| format!("reading the totals of slot {slot}: {err}"))
    }

    /// Take every record the programs submitted so far, and how many were lost because the
    /// queue was full: the worker reads the ring first (waited for up to `DRAIN_WAIT`).
    #[must_use]
    pub fn drain(&self) -> (Vec<Vec<u8>>, u64) {
        if self.running() {
            let ticket = self.shared.reads.asked.fetch_add(1, Ordering::AcqRel) + 1;
            ring_waker(&self.shared.waker);
            self.shared.reads.wait(ticket);
        }
        let mut queue = self
            .shared
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let records: Vec<Vec<u8>> = queue.drain(..).collect();
        (records, self.shared.lost.swap(0, Ordering::Relaxed))
    }

    /// Attach (`true`) or detach (`false`) every program, keeping the maps, the watched
    /// groups and the totals: while detached the kernel runs none of them and counts
    /// nothing (what `sentinel-run probe overhead` switches to measure their cost). Returns
    /// once the worker has done it.
    ///
    /// # Errors
    /// The worker has stopped, did not answer within `SWITCH_WAIT`, or the kernel refused to
    /// attach a program again (then they all stay detached).
    pub fn set_attached(&self, on: bool) -> Result<(), String> {
        let mut state = self.shared.attachment.lock();
        state.wanted = on;
        state.error = None;
        ring_waker(&self.shared.waker);
        let deadline = std::time::Instant::now() + SWITCH_WAIT;
        while state.attached != on {
            if let Some(message) = state.error.take() {
                return Err(message);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || !self.running() {
                return Err(format!(
                    "the probe thread did not {} the programs",
                    if on { "attach" } else { "detach" }
                ));
            }
            state = self
                .shared
                .attachment
                .changed
                .wait_timeout(state, left.min(std::time::Duration::from_millis(50)))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        Ok(())
    }

    /// Whether the programs are attached now.
    #[must_use]
    pub fn attached(&self) -> bool {
        self.shared.attachment.lock().attached
    }

    /// Whether the polling thread is still running.
    #[must_use]
    pub fn running(&self) -> bool {
        self.worker
            .as_ref()
            .is_some_and(|worker| !worker.is_finished())
    }

    /// Detach every program and stop the thread (idempotent).
    pub fn close(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        ring_waker(&self.shared.waker);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Drop for AgentProbe {
    fn drop(&mut self) {
        self.close();
    }
}
