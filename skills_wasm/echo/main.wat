;; echo: the result is the arguments document itself ({"text": ...}), copied from stdin to
;; stdout. The host validated the arguments against the schema, so they are already the result.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))

  ;; 2 pages: page 0 holds the iovec and counters, page 1 (64 KiB) the text.
  (memory (export "memory") 2 2)
  (global $buf i32 (i32.const 65536))
  (global $cap i32 (i32.const 65536))

  (data (i32.const 1024) "{\"error\":{\"code\":\"too_large\",\"message\":\"input over 64 KiB\"}}\n")

  (func $write (param $ptr i32) (param $len i32)
    ;; iovec at 0: {ptr, len}; bytes written at 8. Loop until everything is out.
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store (i32.const 0) (local.get $ptr))
        (i32.store (i32.const 4) (local.get $len))
        (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 2))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.load (i32.const 8))))
        (local.set $len (i32.sub (local.get $len) (i32.load (i32.const 8))))
        (br $more))))

  (func (export "_start")
    (local $len i32)
    (local $n i32)
    (block $eof
      (loop $read
        (if (i32.ge_u (local.get $len) (global.get $cap))
          (then
            (call $write (i32.const 1024) (i32.const 61))
            (call $proc_exit (i32.const 1))))
        (i32.store (i32.const 0) (i32.add (global.get $buf) (local.get $len)))
        (i32.store (i32.const 4) (i32.sub (global.get $cap) (local.get $len)))
        (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 2))))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $len (i32.add (local.get $len) (local.get $n)))
        (br $read)))
    (call $write (global.get $buf) (local.get $len))))
