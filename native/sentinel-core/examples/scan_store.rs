//! Times the native chain walk over an existing store: `scan_store PATH [ROUNDS]`.
//!
//! A profiling aid (run it under `perf record`); the performance goal itself is gated by
//! `benches/test_audit_bench.py`.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: scan_store PATH [ROUNDS]");
    let rounds: usize = args
        .next()
        .map_or(3, |r| r.parse().expect("ROUNDS is a number"));
    for _ in 0..rounds {
        let start = Instant::now();
        let scan = sentinel_core::logscan::scan_store(&path).expect("the store scans");
        let seconds = start.elapsed().as_secs_f64();
        let events = scan.tree.len();
        println!(
            "{events} events, {} findings, {seconds:.3}s, {:.0} events/s",
            scan.findings.len(),
            events as f64 / seconds
        );
    }
}
