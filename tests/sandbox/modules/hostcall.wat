;; Exercises the airlock host-call ABI v1. Sends stdin as the request, then prints each reply
;; as "reply <bytes>" and finally "code <n>" for the first negative code. argv[1] picks a mode:
;;   once (default)  one call, one reply       many     call until refused
;;   small           reply into a 1-byte buffer first (-2), then a big one
;;   noreply         ask for a reply before any call (-5)
;;   bounds          a request outside linear memory (-1)
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "airlock" "call" (func $call (param i32 i32) (result i32)))
  (import "airlock" "reply" (func $reply (param i32 i32) (result i32)))
  (memory (export "memory") 8)
  (data (i32.const 128) "code reply ")
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
  (func $code (param $c i32)
    (call $print_str (i32.const 128) (i32.const 5))
    (call $print_num (local.get $c))
    (call $newline))
  ;; read all of stdin to 65536.., return its length
  (func $slurp (result i32)
    (local $len i32)
    (block $eof
      (loop $more
        (i32.store (i32.const 32) (i32.add (i32.const 65536) (local.get $len)))
        (i32.store (i32.const 36) (i32.const 131072))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40)))
        (br_if $eof (i32.eqz (i32.load (i32.const 40))))
        (local.set $len (i32.add (local.get $len) (i32.load (i32.const 40))))
        (br $more)))
    (local.get $len))
  (func (export "_start")
    (local $mode i32) (local $req i32) (local $n i32) (local $count i32)
    (local.set $mode (i32.const 111))  ;; 'o'nce
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    (if (i32.gt_u (i32.load (i32.const 16)) (i32.const 1))
      (then
        (local.set $mode (i32.load8_u (i32.load (i32.const 1028))))))
    (if (i32.eq (local.get $mode) (i32.const 110))  ;; 'n'oreply
      (then (call $code (call $reply (i32.const 262144) (i32.const 65536))) (return)))
    (if (i32.eq (local.get $mode) (i32.const 98))  ;; 'b'ounds
      (then (call $code (call $call (i32.const 0x7fffff00) (i32.const 4096))) (return)))
    (local.set $req (call $slurp))
    (loop $again
      (local.set $n (call $call (i32.const 65536) (local.get $req)))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (call $code (local.get $n)) (return)))
      (if (i32.eq (local.get $mode) (i32.const 115))  ;; 's'mall
        (then (call $code (call $reply (i32.const 262144) (i32.const 1)))))
      (local.set $n (call $reply (i32.const 262144) (i32.const 262144)))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (call $code (local.get $n)) (return)))
      (call $print_str (i32.const 133) (i32.const 6))
      (call $print_str (i32.const 262144) (local.get $n))
      (call $newline)
      (local.set $count (i32.add (local.get $count) (i32.const 1)))
      (br_if $again (i32.and (i32.eq (local.get $mode) (i32.const 109))
                             (i32.lt_u (local.get $count) (i32.const 1000)))))))
