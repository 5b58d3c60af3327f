;; {{name}}: the result is the arguments document, copied from stdin to stdout (up to 60 KiB).
;; Build: airlock skill build <this folder>.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  ;; iovec at 0 (ptr, len), count at 8, data from 16.
  (func (export "_start")
    (local $len i32)
    (block $eof
      (loop $read
        (i32.store (i32.const 0) (i32.add (i32.const 16) (local.get $len)))
        (i32.store (i32.const 4) (i32.sub (i32.const 61440) (local.get $len)))
        (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br_if $eof (i32.eqz (i32.load (i32.const 8))))
        (local.set $len (i32.add (local.get $len) (i32.load (i32.const 8))))
        (br_if $read (i32.lt_u (local.get $len) (i32.const 61440)))))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
