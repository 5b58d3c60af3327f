;; Spins forever: must end as out_of_fuel, or timeout when the fuel is huge.
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $forever (br $forever))))
