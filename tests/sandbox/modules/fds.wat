;; Tries to write to and read from every descriptor 3..10 it was not given, and to the
;; supervisor's pipes if they were reachable. Prints "fd <n> write <errno> read <errno>".
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 128) "fd  write  read ")
  ;; --- helpers (scratch: 0..63 iovec and counters, 64..95 digits) ---
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $strlen (param $ptr i32) (result i32)
    (local $n i32)
    (block $end
      (loop $next
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $ptr) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))
  (func $print_num (param $v i32)
    (local $pos i32) (local $neg i32)
    (local.set $pos (i32.const 95))
    (if (i32.lt_s (local.get $v) (i32.const 0))
      (then (local.set $neg (i32.const 1)) (local.set $v (i32.sub (i32.const 0) (local.get $v)))))
    (loop $digit
      (local.set $pos (i32.sub (local.get $pos) (i32.const 1)))
      (i32.store8 (local.get $pos) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digit (local.get $v)))
    (if (local.get $neg)
      (then (local.set $pos (i32.sub (local.get $pos) (i32.const 1)))
            (i32.store8 (local.get $pos) (i32.const 45))))
    (call $write (i32.const 1) (local.get $pos) (i32.sub (i32.const 95) (local.get $pos))))
  (func $print_str (param $ptr i32) (param $len i32) (call $write (i32.const 1) (local.get $ptr) (local.get $len)))
  (func $newline (i32.store8 (i32.const 96) (i32.const 10)) (call $write (i32.const 1) (i32.const 96) (i32.const 1)))
  (func (export "_start")
    (local $fd i32)
    (local.set $fd (i32.const 3))
    (loop $next
      (call $print_str (i32.const 128) (i32.const 3))
      (call $print_num (local.get $fd))
      (call $print_str (i32.const 131) (i32.const 7))
      (i32.store (i32.const 32) (i32.const 200))
      (i32.store (i32.const 36) (i32.const 4))
      (call $print_num (call $fd_write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40)))
      (call $print_str (i32.const 138) (i32.const 6))
      (call $print_num (call $fd_read (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40)))
      (call $newline)
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br_if $next (i32.le_u (local.get $fd) (i32.const 10))))))
