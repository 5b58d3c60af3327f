;; File access through the first preopen (fd 3), driven by the arguments:
;;   read PATH          print the file's contents
;;   write PATH         copy stdin into PATH (created or truncated)
;;   symlink PATH DEST  create a symlink PATH -> DEST
;; On failure prints "errno <n>" (WASI errno) and exits with status 1.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 128) "errno ")
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
  (func $check (param $errno i32)
    (if (local.get $errno)
      (then
        (call $print_str (i32.const 128) (i32.const 6))
        (call $print_num (local.get $errno))
        (call $newline)
        (call $proc_exit (i32.const 1)))))
  ;; rights: fd_read (0x2) to read, fd_write (0x40) to write
  (func $open (param $path i32) (param $oflags i32) (param $rights i64) (result i32)
    (call $check
      (call $path_open (i32.const 3) (i32.const 1) (local.get $path) (call $strlen (local.get $path))
        (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 12)))
    (i32.load (i32.const 12)))
  ;; copy $from to $to until EOF, through the buffer at 8192
  (func $copy (param $from i32) (param $to i32)
    (local $n i32)
    (block $eof
      (loop $more
        (i32.store (i32.const 32) (i32.const 8192))
        (i32.store (i32.const 36) (i32.const 65536))
        (call $check (call $fd_read (local.get $from) (i32.const 32) (i32.const 1) (i32.const 40)))
        (local.set $n (i32.load (i32.const 40)))
        (br_if $eof (i32.eqz (local.get $n)))
        (i32.store (i32.const 36) (local.get $n))
        (call $check (call $fd_write (local.get $to) (i32.const 32) (i32.const 1) (i32.const 40)))
        (br $more))))
  (func (export "_start")
    (local $op i32) (local $path i32) (local $dest i32)
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    (local.set $op (i32.load8_u (i32.load (i32.const 1028))))
    (local.set $path (i32.load (i32.const 1032)))
    (if (i32.eq (local.get $op) (i32.const 114))  ;; 'r'
      (then (call $copy (call $open (local.get $path) (i32.const 0) (i64.const 0x2)) (i32.const 1)) (return)))
    (if (i32.eq (local.get $op) (i32.const 119))  ;; 'w': O_CREAT | O_TRUNC
      (then (call $copy (i32.const 0) (call $open (local.get $path) (i32.const 9) (i64.const 0x40))) (return)))
    (local.set $dest (i32.load (i32.const 1036)))
    (call $check
      (call $path_symlink (local.get $dest) (call $strlen (local.get $dest))
        (i32.const 3) (local.get $path) (call $strlen (local.get $path))))))
