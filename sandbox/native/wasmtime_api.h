/* The part of wasmtime's C API the run core calls, resolved at run time from the library the
 * `wasmtime` Python package already loaded (so both share one engine and one ABI).
 *
 * Declared here rather than taken from wasmtime's headers, which its Python wheel does not ship.
 * The signatures and the few struct layouts follow wasmtime 50's C API (the version
 * pyproject.toml pins); tests/sandbox/test_native.py checks each layout against the wheel's own
 * generated ctypes bindings, so a wasmtime upgrade that changes one fails there, not at run time.
 */
#ifndef AIRLOCK_WASMTIME_API_H
#define AIRLOCK_WASMTIME_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wasm_engine_t wasm_engine_t;
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_linker wasmtime_linker_t;
typedef struct wasmtime_module wasmtime_module_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasm_trap_t wasm_trap_t;
typedef struct wasi_config_t wasi_config_t;
typedef struct wasmtime_caller wasmtime_caller_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasm_valtype_t wasm_valtype_t;

typedef struct {
    size_t size;
    uint8_t *data;
} wasm_byte_vec_t;

typedef struct {
    size_t size;
    wasm_valtype_t **data;
} wasm_valtype_vec_t;

typedef struct {
    uint64_t store_id;
    size_t private_index;
} wasmtime_instance_t;

typedef struct {
    uint64_t store_id;
    void *private_ptr;
} wasmtime_func_t;

typedef struct {
    struct {
        uint64_t store_id;
        uint32_t private1;
    } head;
    uint32_t private2;
} wasmtime_memory_t;

/* The largest member of wasmtime_extern_union is wasmtime_global_t (u64 + 3 x u32). */
typedef struct {
    uint8_t kind;
    union {
        wasmtime_func_t func;
        wasmtime_memory_t memory;
        struct {
            uint64_t store_id;
            uint32_t private1, private2, private3;
        } global;
    } of;
} wasmtime_extern_t;

/* wasmtime_val_raw_t: the untyped argument/result slots of an unchecked host function. */
typedef union {
    int32_t i32;
    int64_t i64;
    uint8_t v128[16];
    void *funcref;
} wasmtime_val_raw_t;

#define WASMTIME_EXTERN_FUNC 0
#define WASMTIME_EXTERN_MEMORY 3
#define WASM_I32 0

typedef ptrdiff_t (*wasi_output_fn)(void *env, const unsigned char *buf, size_t len);
typedef wasm_trap_t *(*wasmtime_unchecked_fn)(void *env, wasmtime_caller_t *caller,
                                               wasmtime_val_raw_t *args_and_results, size_t n);

/* X(return type, name, parameter list) for every function the core resolves. */
#define WASMTIME_FUNCTIONS(X)                                                                    \
    X(wasmtime_store_t *, wasmtime_store_new, (wasm_engine_t *, void *, void (*)(void *)))        \
    X(wasmtime_context_t *, wasmtime_store_context, (wasmtime_store_t *))                         \
    X(void, wasmtime_store_limiter,                                                              \
      (wasmtime_store_t *, int64_t, int64_t, int64_t, int64_t, int64_t))                         \
    X(wasmtime_error_t *, wasmtime_context_set_fuel, (wasmtime_context_t *, uint64_t))           \
    X(wasmtime_error_t *, wasmtime_context_get_fuel, (const wasmtime_context_t *, uint64_t *))   \
    X(void, wasmtime_context_set_epoch_deadline, (wasmtime_context_t *, uint64_t))               \
    X(wasmtime_error_t *, wasmtime_context_set_wasi, (wasmtime_context_t *, wasi_config_t *))    \
    X(void, wasmtime_engine_increment_epoch, (wasm_engine_t *))                                  \
    X(wasi_config_t *, wasi_config_new, (void))                                                  \
    X(bool, wasi_config_set_argv, (wasi_config_t *, size_t, const char *const *))                \
    X(bool, wasi_config_set_env,                                                                 \
      (wasi_config_t *, size_t, const char *const *, const char *const *))                       \
    X(void, wasi_config_set_stdin_bytes, (wasi_config_t *, wasm_byte_vec_t *))                   \
    X(void, wasi_config_set_stdout_custom,                                                       \
      (wasi_config_t *, wasi_output_fn, void *, void (*)(void *)))                               \
    X(void, wasi_config_set_stderr_custom,                                                       \
      (wasi_config_t *, wasi_output_fn, void *, void (*)(void *)))                               \
    X(bool, wasi_config_preopen_dir, (wasi_config_t *, const char *, const char *, bool))        \
    X(void, wasm_byte_vec_new, (wasm_byte_vec_t *, size_t, const uint8_t *))                     \
    X(void, wasm_byte_vec_delete, (wasm_byte_vec_t *))                                           \
    X(wasmtime_error_t *, wasmtime_module_new,                                                   \
      (wasm_engine_t *, const uint8_t *, size_t, wasmtime_module_t **))                          \
    X(wasmtime_error_t *, wasmtime_module_deserialize,                                           \
      (wasm_engine_t *, const uint8_t *, size_t, wasmtime_module_t **))                          \
    X(wasmtime_error_t *, wasmtime_module_serialize, (wasmtime_module_t *, wasm_byte_vec_t *))   \
    X(wasmtime_linker_t *, wasmtime_linker_new, (wasm_engine_t *))                               \
    X(wasmtime_error_t *, wasmtime_linker_define_wasi, (wasmtime_linker_t *))                    \
    X(wasmtime_error_t *, wasmtime_linker_define_func_unchecked,                                 \
      (wasmtime_linker_t *, const char *, size_t, const char *, size_t, const wasm_functype_t *, \
       wasmtime_unchecked_fn, void *, void (*)(void *)))                                         \
    X(wasmtime_error_t *, wasmtime_linker_instantiate,                                           \
      (const wasmtime_linker_t *, wasmtime_context_t *, const wasmtime_module_t *,               \
       wasmtime_instance_t *, wasm_trap_t **))                                                   \
    X(bool, wasmtime_instance_export_get,                                                        \
      (wasmtime_context_t *, const wasmtime_instance_t *, const char *, size_t,                  \
       wasmtime_extern_t *))                                                                     \
    X(wasmtime_error_t *, wasmtime_func_call,                                                    \
      (wasmtime_context_t *, const wasmtime_func_t *, const void *, size_t, void *, size_t,     \
       wasm_trap_t **))                                                                          \
    X(bool, wasmtime_caller_export_get,                                                          \
      (wasmtime_caller_t *, const char *, size_t, wasmtime_extern_t *))                          \
    X(wasmtime_context_t *, wasmtime_caller_context, (wasmtime_caller_t *))                      \
    X(uint8_t *, wasmtime_memory_data, (const wasmtime_context_t *, const wasmtime_memory_t *))  \
    X(size_t, wasmtime_memory_data_size,                                                         \
      (const wasmtime_context_t *, const wasmtime_memory_t *))                                   \
    X(bool, wasmtime_error_exit_status, (const wasmtime_error_t *, int *))                      \
    X(void, wasmtime_error_message, (const wasmtime_error_t *, wasm_byte_vec_t *))               \
    X(void, wasmtime_error_delete, (wasmtime_error_t *))                                         \
    X(bool, wasmtime_trap_code, (const wasm_trap_t *, uint8_t *))                                \
    X(void, wasm_trap_message, (const wasm_trap_t *, wasm_byte_vec_t *))                         \
    X(wasm_trap_t *, wasmtime_trap_new, (const char *, size_t))                                  \
    X(void, wasm_trap_delete, (wasm_trap_t *))                                                   \
    X(wasm_valtype_t *, wasm_valtype_new, (uint8_t))                                             \
    X(void, wasm_valtype_vec_new, (wasm_valtype_vec_t *, size_t, wasm_valtype_t *const *))      \
    X(wasm_functype_t *, wasm_functype_new, (wasm_valtype_vec_t *, wasm_valtype_vec_t *))        \
    X(void, wasm_functype_delete, (wasm_functype_t *))

#define WASMTIME_DECLARE(ret, name, params) ret(*name) params;
typedef struct {
    WASMTIME_FUNCTIONS(WASMTIME_DECLARE)
} wasmtime_api;
#undef WASMTIME_DECLARE

/* Resolve every function from the already loaded library at `path`; 0 on success, else -1 and
 * `err` names what is missing. */
int wasmtime_api_load(wasmtime_api *api, const char *path, char *err, size_t errlen);

#endif
