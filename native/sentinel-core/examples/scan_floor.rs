//! The floor under the native chain walk: `scan_floor PATH [ROUNDS]`.
//!
//! Times, per event of an existing store, what any verifier must at least do: step SQLite
//! over the rows and touch every column (one thread, and two threads over two halves of
//! the positions), hash each event (SHA-256 of prev || canonical, and the Merkle leaf), and
//! scan its canonical bytes. CPU time is what counts on a shared machine; wall time is shown
//! too. A profiling aid; the goal is gated by `benches/test_audit_bench.py`.

use std::time::Instant;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

const COLUMNS: &str = "SELECT position, prev_hash, hash, canonical, event_id, stream, stream_rev, \
                       type, lamport, correlation_id, idempotency_key FROM events";

fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<Rusage>::uninit();
    // SAFETY: getrusage writes a struct rusage into the pointer; RUSAGE_SELF is 0.
    unsafe { getrusage(0, usage.as_mut_ptr()) };
    // SAFETY: initialised by the call above.
    let usage = unsafe { usage.assume_init() };
    let t = |tv: [i64; 2]| tv[0] as f64 + tv[1] as f64 * 1e-6;
    t(usage.utime) + t(usage.stime)
}

/// Linux's `struct rusage` on 64-bit targets: two `timeval`s, then fourteen counters.
#[repr(C)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    #[allow(dead_code)] // written by the kernel, never read here
    rest: [i64; 14],
}

extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

fn open(path: &str) -> Connection {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("opens");
    let _ = conn.pragma_update(None, "mmap_size", 1i64 << 40);
    conn
}

/// Steps over the rows in `lo..hi` touching every column; returns a checksum and the count.
fn read_range(path: &str, lo: i64, hi: i64, copy: bool) -> (u64, usize) {
    let conn = open(path);
    let mut statement = conn
        .prepare(&format!(
            "{COLUMNS} WHERE position >= ?1 AND position < ?2 ORDER BY position"
        ))
        .expect("prepares");
    let mut rows = statement.query([lo, hi]).expect("queries");
    let mut sum = 0u64;
    let mut count = 0;
    let mut buffer = Vec::new();
    while let Some(row) = rows.next().expect("steps") {
        count += 1;
        for column in 0..11 {
            match row.get_ref(column).expect("column") {
                ValueRef::Integer(i) => sum = sum.wrapping_add(i as u64),
                ValueRef::Text(b) | ValueRef::Blob(b) => {
                    sum = sum.wrapping_add(b.len() as u64 + u64::from(b[0]));
                    if copy {
                        buffer.clear();
                        buffer.extend_from_slice(b);
                        sum = sum.wrapping_add(u64::from(buffer[buffer.len() - 1]));
                    }
                }
                _ => {}
            }
        }
    }
    (sum, count)
}

fn timed(label: &str, events: usize, f: impl FnOnce()) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    f();
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    println!(
        "{label:40} wall {:7.1} ms  cpu {:7.1} ms  {:5.2} us cpu/event  {:9.0} events/s wall",
        wall * 1e3,
        cpu * 1e3,
        cpu * 1e6 / events as f64,
        events as f64 / wall
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: scan_floor PATH [ROUNDS]");
    let rounds: usize = args
        .next()
        .map_or(3, |r| r.parse().expect("ROUNDS is a number"));
    let conn = open(&path);
    let (lo, hi): (i64, i64) = conn
        .query_row(
            "SELECT min(position), max(position) + 1 FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("bounds");
    let canonicals: Vec<(Vec<u8>, Vec<u8>)> = {
        let mut statement = conn
            .prepare("SELECT prev_hash, canonical FROM events")
            .expect("ok");
        let rows = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("ok");
        rows.map(|r| r.expect("row")).collect()
    };
    let events = canonicals.len();
    let mid = lo + (hi - lo) / 2;
    for _ in 0..rounds {
        timed("read, 1 thread, no copy", events, || {
            std::hint::black_box(read_range(&path, lo, hi, false));
        });
        timed("read, 1 thread, copy blobs", events, || {
            std::hint::black_box(read_range(&path, lo, hi, true));
        });
        timed("read, 2 threads (halves), no copy", events, || {
            std::thread::scope(|s| {
                let a = s.spawn(|| read_range(&path, lo, mid, false));
                let b = s.spawn(|| read_range(&path, mid, hi, false));
                std::hint::black_box((a.join().expect("a"), b.join().expect("b")));
            });
        });
        timed("sha256 link + leaf", events, || {
            for (prev, canonical) in &canonicals {
                let prev: [u8; 32] = prev.as_slice().try_into().expect("32 bytes");
                let h = sentinel_core::chain::link_hash(&prev, canonical);
                std::hint::black_box(sentinel_core::merkle::leaf_hash(&h));
            }
        });
        timed("check_document (single-pass scanner)", events, || {
            for (_, canonical) in &canonicals {
                std::hint::black_box(sentinel_core::document::check_document(canonical));
            }
        });
        timed("scan_store (the whole walk)", events, || {
            std::hint::black_box(sentinel_core::logscan::scan_store(&path).expect("scans"));
        });
    }
}
