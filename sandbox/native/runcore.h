/* The native run core: the warm path's run child, from the zygote's fork to its exit.
 *
 * The zygote (Python, sandbox/zygote.py) builds one `core` with everything a run child needs
 * (all of it trusted: the engine, the run's seccomp program, the runtime's read paths, the
 * enforcement report its layers produce) and calls core_fork_spare() per run. The child never
 * returns to the interpreter: it prepares its Landlock ruleset, waits for its run's Setup,
 * applies the run layers (confine.c), reads the Job, runs it in wasmtime (run.c), reports, and
 * exits. A forked Python child would copy on write every page of the zygote's heap it touches
 * (reference counts included); this one touches almost none (see docs/sandbox.md, Figures).
 */
#ifndef AIRLOCK_RUNCORE_H
#define AIRLOCK_RUNCORE_H

#include <stddef.h>
#include <stdint.h>

#include "wasmtime_api.h"
#include "wire.h"

#define CORE_MAX_PATHS 64
#define CORE_MAX_TRAP_CODES 256

/* A layer the run child cannot apply on this machine, and why (refused if a run requires it). */
typedef struct {
    char *layer, *message;
} core_degraded;

/* The run limits (sandbox.spec.Limits); defaults come from Python. */
typedef struct {
    uint64_t fuel, memory_mb, max_output_kb, max_host_calls;
    double timeout_s;
} core_limits;

typedef struct {
    wasmtime_api api;
    wasm_engine_t *engine;
    wasmtime_linker_t *linker; /* WASI and the airlock imports, defined once in the zygote */
    int run_in, run_out, ctl_out;
    /* Landlock (abi 0: none). Rights masks as the kernel defines them. */
    int abi;
    uint64_t handled_fs, scoped, fs_read, fs_read_write, fs_dir_only;
    char *read_paths[CORE_MAX_PATHS];
    size_t n_read_paths;
    /* The run seccomp program (NULL: none), compiled by the supervisor. */
    uint8_t *filter;
    size_t filter_len;
    long filter_syscall;
    /* rlimits: the run's address space is runtime_as + 2 x its memory; CPU its timeout + grace */
    uint64_t runtime_as, cpu_grace_s, nofile, nproc, fsize;
    /* The Ready report: every field but rlimits and notes, pre-encoded; its notes; the layers it
     * holds (for `require`); the layers that cannot be applied. */
    char *report_fields;
    char **notes;
    size_t n_notes;
    char **held;
    size_t n_held;
    core_degraded *degraded;
    size_t n_degraded;
    core_limits defaults;
    char *trap_names[CORE_MAX_TRAP_CODES];
    size_t n_trap_names;
} core;

/* The Setup of one run, decoded. */
typedef struct {
    char **ro_paths, **rw_paths, **require;
    size_t n_ro, n_rw, n_require;
    core_limits limits;
} core_setup;

/* Failures carry a sentence for the supervisor, as the Python side's AirlockError does. */
typedef struct {
    char message[512];
    int hardening; /* 1: a layer could not be applied; the run must not start */
} core_failure;

/* confine.c: the run layers. */
int core_prepare_ruleset(const core *c);  /* the ruleset fd with the read rules, or -1 */
int core_harden_run(const core *c, const core_setup *setup, int ruleset, wbuf *ready,
                    core_failure *why); /* 0 and the Ready frame body, or -1 */

/* spare.c: the protocol. The decoders fill `why` with the sentence the supervisor gets. */
int core_bad_frame(core_failure *why, const char *where, const char *what);
int core_only_fields(const jvalue *v, const char *const *names, const char *where,
                     core_failure *why);
int core_string_list(const jvalue *v, const char *where, char ***out, size_t *n,
                     core_failure *why);
int core_decode_limits(const jvalue *v, core_limits *out, core_failure *why);
int core_decode_setup(const core *c, const char *body, size_t len, core_setup *out,
                      core_failure *why);
void core_free_setup(core_setup *setup);
void core_spare_main(const core *c, int zygote); /* never returns */
void core_write_failed(const core *c, const core_failure *why);

/* run.c: one run in wasmtime. */
int core_define_imports(core *c, char *err, size_t errlen);
void core_serve_job(const core *c); /* reads the Job, runs it, writes Done (or Failed) */

#endif
