  ;; wc: lines, words and bytes of each workspace file (or of stdin without arguments), as
  ;; "LINES WORDS BYTES PATH" lines and a "total" line for more than one file. A word is a
  ;; run of bytes other than space, tab, newline, vertical tab, form feed and carriage return.
  ;; Exit 0, or 2 when a file could not be read (the others are still counted).
  (global $NAME i32 (i32.const 41984))
  (global $NAME_LEN i32 (i32.const 2))
  (data (i32.const 41984) "wc")
  (data (i32.const 41988) "total")
  (global $total_lines (mut i64) (i64.const 0))
  (global $total_words (mut i64) (i64.const 0))
  (global $total_bytes (mut i64) (i64.const 0))

  (func $is_space (param $c i32) (result i32)
    (i32.or (i32.eq (local.get $c) (i32.const 32))
      (i32.and (i32.ge_u (local.get $c) (i32.const 9)) (i32.le_u (local.get $c) (i32.const 13)))))

  ;; Count fd to its end and print one line; return 0, or 2 on a read error.
  (func $count (param $fd i32) (param $path i32) (result i32)
    (local $n i32) (local $i i32) (local $c i32) (local $in_word i32)
    (local $lines i64) (local $words i64) (local $bytes i64)
    (block $eof
      (loop $chunk
        (local.set $n (call $read (local.get $fd) (local.get $path)))
        (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 2))))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $n))))
        (local.set $i (i32.const 0))
        (loop $byte
          (local.set $c (i32.load8_u (i32.add (global.get $BUF) (local.get $i))))
          (if (i32.eq (local.get $c) (i32.const 10))
            (then (local.set $lines (i64.add (local.get $lines) (i64.const 1)))))
          (if (call $is_space (local.get $c))
            (then (local.set $in_word (i32.const 0)))
            (else
              (if (i32.eqz (local.get $in_word))
                (then (local.set $words (i64.add (local.get $words) (i64.const 1)))))
              (local.set $in_word (i32.const 1))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $byte (i32.lt_u (local.get $i) (local.get $n))))
        (br $chunk)))
    (call $write_u64 (i32.const 1) (local.get $lines))
    (call $write_char (i32.const 1) (i32.const 32))
    (call $write_u64 (i32.const 1) (local.get $words))
    (call $write_char (i32.const 1) (i32.const 32))
    (call $write_u64 (i32.const 1) (local.get $bytes))
    (if (local.get $path)
      (then
        (call $write_char (i32.const 1) (i32.const 32))
        (call $write_cstr (i32.const 1) (local.get $path))))
    (call $newline (i32.const 1))
    (global.set $total_lines (i64.add (global.get $total_lines) (local.get $lines)))
    (global.set $total_words (i64.add (global.get $total_words) (local.get $words)))
    (global.set $total_bytes (i64.add (global.get $total_bytes) (local.get $bytes)))
    (i32.const 0))

  (func (export "_start")
    (local $argc i32) (local $i i32) (local $fd i32) (local $status i32)
    (local.set $argc (call $load_args))
    (if (i32.le_u (local.get $argc) (i32.const 1))
      (then (call $proc_exit (call $count (i32.const 0) (i32.const 0)))))
    (local.set $i (i32.const 1))
    (loop $file
      (local.set $fd (call $open (call $arg (local.get $i))))
      (if (i32.lt_s (local.get $fd) (i32.const 0))
        (then (local.set $status (i32.const 2)))
        (else
          (local.set $status
            (i32.or (local.get $status) (call $count (local.get $fd) (call $arg (local.get $i)))))
          (drop (call $fd_close (local.get $fd)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $file (i32.lt_u (local.get $i) (local.get $argc))))
    (if (i32.gt_u (local.get $argc) (i32.const 2))
      (then
        (call $write_u64 (i32.const 1) (global.get $total_lines))
        (call $write_char (i32.const 1) (i32.const 32))
        (call $write_u64 (i32.const 1) (global.get $total_words))
        (call $write_char (i32.const 1) (i32.const 32))
        (call $write_u64 (i32.const 1) (global.get $total_bytes))
        (call $write_char (i32.const 1) (i32.const 32))
        (call $write (i32.const 1) (i32.const 41988) (i32.const 5))
        (call $newline (i32.const 1))))
    (call $proc_exit (local.get $status)))
