"""WAT modules for attack tests: a module that makes host calls the way a hostile skill would."""

from __future__ import annotations


def wat_bytes(data: bytes) -> str:
    """``data`` as a WAT string literal body (every byte escaped: no quoting surprises)."""
    return "".join(f"\\{b:02x}" for b in data)


def caller(request: bytes, repeat: int = 1) -> str:
    """A command module that sends ``request`` ``repeat`` times through ``airlock.call``.

    It prints the last reply it could read and exits with ``10 * successful calls + (-last
    error code)``: e.g. 53 = five calls served, then -3 (budget exhausted).
    """
    return f"""
(module
  (import "airlock" "call" (func $call (param i32 i32) (result i32)))
  (import "airlock" "reply" (func $reply (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 4)
  (data (i32.const 1024) "{wat_bytes(request)}")
  (func (export "_start")
    (local $i i32) (local $n i32) (local $ok i32) (local $last i32)
    (loop $again
      (local.set $n (call $call (i32.const 1024) (i32.const {len(request)})))
      (if (i32.ge_s (local.get $n) (i32.const 0))
        (then
          (local.set $ok (i32.add (local.get $ok) (i32.const 1)))
          (local.set $last (call $reply (i32.const 131072) (i32.const 65536))))
        (else (local.set $last (local.get $n))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const {repeat}))))
    (if (i32.gt_s (local.get $last) (i32.const 0))
      (then
        (i32.store (i32.const 0) (i32.const 131072))
        (i32.store (i32.const 4) (local.get $last))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $last (i32.const 0))))
    (call $exit
      (i32.add
        (i32.mul (local.get $ok) (i32.const 10))
        (i32.sub (i32.const 0) (local.get $last))))))
"""


# Prints its whole environment (NUL-separated "NAME=value" strings) to stdout.
ENV_DUMP = """
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (func (export "_start")
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (drop (call $get (i32.const 1024) (i32.const 65536)))
    (i32.store (i32.const 16) (i32.const 65536))
    (i32.store (i32.const 20) (i32.load (i32.const 4)))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
"""


def opener(path: str) -> str:
    """A module that opens ``path`` read-only relative to fd 3 (its first preopened directory),
    prints the first 4 KiB it can read, and exits with the WASI errno of the open (0: opened)."""
    data = path.encode()
    return f"""
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 1024) "{wat_bytes(data)}")
  (func (export "_start")
    (local $err i32)
    ;; dirflags 1: follow symlinks; rights: fd_read (bit 1) | fd_readdir (bit 14).
    (local.set $err (call $open (i32.const 3) (i32.const 1) (i32.const 1024) (i32.const {len(data)})
      (i32.const 0) (i64.const 16386) (i64.const 16386) (i32.const 0) (i32.const 16)))
    (if (i32.eqz (local.get $err))
      (then
        (i32.store (i32.const 0) (i32.const 8192))
        (i32.store (i32.const 4) (i32.const 4096))
        (drop (call $read (i32.load (i32.const 16)) (i32.const 0) (i32.const 1) (i32.const 8)))
        (i32.store (i32.const 4) (i32.load (i32.const 8)))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
    (call $exit (local.get $err))))
"""
