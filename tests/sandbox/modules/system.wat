;; Imports env.system, which the host does not provide: must be refused as invalid_module.
(module
  (import "env" "system" (func $system (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "cat /etc/shadow\00")
  (func (export "_start") (drop (call $system (i32.const 0)))))
