"""Small WASI modules, in WebAssembly text, for the Wasmtime layer's tests."""

from __future__ import annotations

_PRELUDE = """
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
"""


def _module(body: str, data: str = "") -> str:
    return f'(module {_PRELUDE} {data} (func (export "_start") {body}))'


HELLO = _module(
    """
    (i32.store (i32.const 0) (i32.const 100))  ;; iovec.buf
    (i32.store (i32.const 4) (i32.const 6))    ;; iovec.len
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 0))
    """,
    '(data (i32.const 100) "hello\\n")',
)

SPIN = _module("(loop $forever (br $forever))")

GROW = _module(
    """
    ;; ask for 2048 more pages (128 MiB); exit 3 if refused, 0 if granted
    (if (i32.eq (memory.grow (i32.const 2048)) (i32.const -1))
      (then (call $proc_exit (i32.const 3))))
    (call $proc_exit (i32.const 0))
    """
)


def open_and_print(path: str) -> str:
    """A module that opens ``path`` under the pre-opened directory (fd 3) and prints it;
    exits with the WASI errno if the open fails."""
    encoded = path.encode()
    return _module(
        f"""
        (local $err i32)
        (local.set $err (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const {len(encoded)})
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16)))  ;; rights: fd_read
        (if (local.get $err) (then (call $proc_exit (local.get $err))))
        (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 4096))
        (drop (call $fd_read (i32.load (i32.const 16)) (i32.const 0) (i32.const 1) (i32.const 8)))
        (i32.store (i32.const 4) (i32.load (i32.const 8)))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $proc_exit (i32.const 0))
        """,
        f'(data (i32.const 200) "{encoded.decode()}")',
    )
