;; The keyword search of TextView.wordHits() over a text copied into linear memory as UTF-16 code
;; units: at every word start, the longest registered keyword there, the search going on after it;
;; what the regular expression \b(?:longest|...|shortest) with flags gi finds (keyword-scan.ts).
;;
;; Tables, written by keyword-scan.ts:
;;   address 0: a byte per code unit - bit 7 set for an ASCII word character [A-Za-z0-9_], bits 0-6
;;     the class of the keyword character it matches case-insensitively (0: none);
;;   $pairs: a byte per (class, class) - 1 where some keyword starts with those two classes;
;;   $trans: the trie's transitions, u16 per node and class (0: no way on; node 0 is the root);
;;   $ends: u16 per node, the id + 1 of the keyword that ends there (0: none).
;; The text is followed by a 0 unit: the scan reads one unit past the text, never further.
;;
;; Why this shape: a regular expression (and a loop that branches at every word start) pays a
;; mispredicted branch at most word starts, about one unit in six. Here whether a position can
;; start a keyword - no word character before it (\b, since every keyword starts with an ASCII
;; letter) and some keyword starting with its two units' classes - is computed with arithmetic,
;; and only those positions (about one in thirty in code and prose) branch into the trie walk.
;; A SIMD form that finds word starts eight units at a time and checks each alone measured slower
;; (decision 0089): the check per word start brought the mispredicted branches back.
(module
  (memory (export "memory") 1)
  ;; Writes (start, keyword id) pairs as two i32 at $out and returns how many.
  (func (export "scan")
    (param $text i32) (param $len i32) (param $pairs i32) (param $trans i32) (param $ends i32)
    (param $classes i32) (param $out i32)
    (result i32)
    (local $i i32) (local $prevWord i32) (local $byte i32) (local $nextByte i32) (local $node i32)
    (local $j i32) (local $class i32) (local $best i32) (local $bestEnd i32) (local $hits i32)
    (local $end i32)
    (if (i32.eqz (local.get $len)) (then (return (i32.const 0))))
    (local.set $byte (i32.load8_u (i32.load16_u (local.get $text))))
    (block $done
      (loop $next
        (local.set $nextByte (i32.load8_u (i32.load16_u
          (i32.add (local.get $text) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 1))))))
        (if (i32.and
              (i32.xor (local.get $prevWord) (i32.const 1))
              (i32.load8_u (i32.add (local.get $pairs)
                (i32.or (i32.shl (i32.and (local.get $byte) (i32.const 127)) (i32.const 7))
                        (i32.and (local.get $nextByte) (i32.const 127))))))
          (then
            ;; Walk the trie from the first class; remember the longest keyword that ends.
            (local.set $node (i32.load16_u (i32.add (local.get $trans)
              (i32.shl (i32.and (local.get $byte) (i32.const 127)) (i32.const 1)))))
            (local.set $best (i32.const 0))
            (local.set $j (i32.add (local.get $i) (i32.const 1)))
            (block $walked
              (loop $walk
                (local.set $end (i32.load16_u (i32.add (local.get $ends) (i32.shl (local.get $node) (i32.const 1)))))
                (if (local.get $end)
                  (then (local.set $best (local.get $end)) (local.set $bestEnd (local.get $j))))
                (br_if $walked (i32.ge_u (local.get $j) (local.get $len)))
                (local.set $class (i32.and (i32.const 127)
                  (i32.load8_u (i32.load16_u (i32.add (local.get $text) (i32.shl (local.get $j) (i32.const 1)))))))
                (br_if $walked (i32.eqz (local.get $class)))
                (local.set $node (i32.load16_u (i32.add (local.get $trans)
                  (i32.shl (i32.add (i32.mul (local.get $node) (local.get $classes)) (local.get $class)) (i32.const 1)))))
                (br_if $walked (i32.eqz (local.get $node)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $walk)))
            (if (local.get $best)
              (then
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $hits) (i32.const 3))) (local.get $i))
                (i32.store offset=4 (i32.add (local.get $out) (i32.shl (local.get $hits) (i32.const 3)))
                  (i32.sub (local.get $best) (i32.const 1)))
                (local.set $hits (i32.add (local.get $hits) (i32.const 1)))
                ;; The search goes on after the keyword; \b there reads the keyword's last unit.
                (local.set $i (local.get $bestEnd))
                (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
                (local.set $prevWord (i32.shr_u
                  (i32.load8_u (i32.load16_u (i32.add (local.get $text)
                    (i32.shl (i32.sub (local.get $i) (i32.const 1)) (i32.const 1)))))
                  (i32.const 7)))
                (local.set $byte (i32.load8_u (i32.load16_u
                  (i32.add (local.get $text) (i32.shl (local.get $i) (i32.const 1))))))
                (br $next)))))
        (local.set $prevWord (i32.shr_u (local.get $byte) (i32.const 7)))
        (local.set $byte (local.get $nextByte))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $len)))))
    (local.get $hits)))
