/* One run in wasmtime: the native twin of sandbox.runtime.execute (same limits, same statuses,
 * same sentences; tests/sandbox/test_native.py runs the status matrix through both).
 *
 * Fuel bounds CPU, an epoch deadline driven by a ticker thread bounds wall time, the store's
 * limiter bounds memory and tables, and the output sinks keep at most max_output_kb each and end
 * the run past that. The only imports are WASI (exactly the job's args, env, stdin and preopens)
 * and the `airlock` host calls (ABI v1, docs/skill-abi.md), relayed to the supervisor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runcore.h"

#define MAX_HOST_REQUEST (64 * 1024)
#define MAX_HOST_REPLY (8 * 1024 * 1024)
#define MAX_JOB_FRAME (4ull * 64 * 1024 * 1024)
#define PAGE 65536
#define TICKS 1000 /* epoch ticks per run: the deadline's resolution is timeout / TICKS */
#define MIN_TICK_S 0.005
#define MAX_TABLE_ELEMENTS 1000000
#define MAX_INSTANCES 4
#define MAX_TABLES 8
#define MAX_MEMORIES 2
#define TRAP_STACK_OVERFLOW 0
#define TRAP_INTERRUPT 10
#define TRAP_OUT_OF_FUEL 11

enum { E_OUTSIDE = -1, E_TOO_LARGE = -2, E_BUDGET = -3, E_NO_HANDLER = -4, E_NO_REPLY = -5 };
enum { REASON_NONE, REASON_TIMEOUT, REASON_OUTPUT };

typedef struct {
    const core *c;
    /* the deadline */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop, reason;
    uint64_t ticks;
    double tick_s;
    /* host calls */
    int host_calls;
    uint64_t budget, used;
    uint8_t *pending;
    size_t pending_len;
    int has_pending;
} run_state;

typedef struct {
    run_state *run;
    size_t cap;
    wbuf data;
    int overflowed;
} sink;

/* The run in progress: a run child runs exactly one, and the linker's imports (defined once in
 * the zygote, before any run exists) find its state here. */
static run_state *current;

/* --- the deadline ------------------------------------------------------------------------- */

static void interrupt(run_state *r, int reason) {
    pthread_mutex_lock(&r->lock);
    int first = r->reason == REASON_NONE;
    if (first)
        r->reason = reason;
    pthread_mutex_unlock(&r->lock);
    if (!first)
        return;
    /* Past any deadline: the run ends at its next epoch check (loop back-edge or call). */
    for (uint64_t i = 0; i <= r->ticks; i++)
        r->c->api.wasmtime_engine_increment_epoch(r->c->engine);
}

static void *ticker(void *arg) {
    run_state *r = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long step_ns = (long)(r->tick_s * 1e9);
    pthread_mutex_lock(&r->lock);
    for (uint64_t i = 0; i <= r->ticks && !r->stop; i++) {
        next.tv_nsec += step_ns;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &next) != ETIMEDOUT)
            ;
        if (!r->stop)
            r->c->api.wasmtime_engine_increment_epoch(r->c->engine);
    }
    int expired = !r->stop;
    pthread_mutex_unlock(&r->lock);
    if (expired)
        interrupt(r, REASON_TIMEOUT);
    return NULL;
}

/* --- output ------------------------------------------------------------------------------- */

static ptrdiff_t sink_write(void *env, const unsigned char *buf, size_t len) {
    sink *s = env;
    size_t room = s->cap > s->data.len ? s->cap - s->data.len : 0;
    if (len > room) {
        wbuf_put(&s->data, buf, room);
        s->overflowed = 1;
        interrupt(s->run, REASON_OUTPUT);
    } else {
        wbuf_put(&s->data, buf, len);
    }
    return (ptrdiff_t)len;
}

/* --- host calls --------------------------------------------------------------------------- */

static uint8_t *guest_memory(wasmtime_caller_t *caller, size_t *size) {
    const wasmtime_api *api = &current->c->api;
    wasmtime_extern_t item;
    if (!api->wasmtime_caller_export_get(caller, "memory", 6, &item) ||
        item.kind != WASMTIME_EXTERN_MEMORY)
        return NULL;
    wasmtime_context_t *ctx = api->wasmtime_caller_context(caller);
    *size = api->wasmtime_memory_data_size(ctx, &item.of.memory);
    return api->wasmtime_memory_data(ctx, &item.of.memory);
}

static int inside(int32_t ptr, int32_t len, size_t size) {
    return ptr >= 0 && len >= 0 && (uint64_t)ptr + (uint64_t)len <= size;
}

/* Send the request, wait for the supervisor's reply: 0, or -1 when the channel broke. */
static int relay(const uint8_t *request, size_t len) {
    const core *c = current->c;
    wbuf frame = {0};
    wbuf_str(&frame, "{\"kind\":\"host_call\",\"request\":");
    wbuf_base64(&frame, request, len);
    wbuf_str(&frame, "}");
    int rc = frame.failed || frame_write(c->run_out, frame.data, frame.len);
    wbuf_free(&frame);
    if (rc)
        return -1;
    char *body;
    size_t body_len;
    if (frame_read(c->run_in, 2 * MAX_HOST_REPLY, &body, &body_len))
        return -1;
    jvalue msg;
    char err[128];
    rc = json_parse(body, body_len, &msg, err, sizeof err);
    free(body);
    if (rc)
        return -1;
    const jvalue *kind = json_get(&msg, "kind"), *reply = json_get(&msg, "reply");
    rc = -1;
    if (msg.len == 2 && kind && kind->type == J_STRING && !strcmp(kind->str, "host_reply") &&
        reply && reply->type == J_STRING) {
        free(current->pending);
        current->pending = NULL;
        if (base64_decode(reply->str, reply->len, &current->pending, &current->pending_len) == 0) {
            if (current->pending_len > MAX_HOST_REPLY)
                current->pending_len = MAX_HOST_REPLY;
            current->has_pending = 1;
            rc = 0;
        }
    }
    json_free(&msg);
    return rc;
}

static wasm_trap_t *host_call(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *slots,
                              size_t n) {
    (void)env, (void)n;
    int32_t ptr = slots[0].i32, len = slots[1].i32;
    size_t size;
    uint8_t *memory = current ? guest_memory(caller, &size) : NULL;
    int32_t result;
    if (!memory || !inside(ptr, len, size)) {
        result = E_OUTSIDE;
    } else if (len > MAX_HOST_REQUEST) {
        result = E_TOO_LARGE;
    } else if (!current->host_calls) {
        result = E_NO_HANDLER;
    } else if (current->used >= current->budget) {
        result = E_BUDGET;
    } else {
        current->used++;
        uint8_t request[MAX_HOST_REQUEST];
        memcpy(request, memory + ptr, (size_t)len);
        if (relay(request, (size_t)len)) {
            const char *why = "the host call got no reply from the supervisor";
            return current->c->api.wasmtime_trap_new(why, strlen(why));
        }
        result = (int32_t)current->pending_len;
    }
    slots[0].i32 = result;
    return NULL;
}

static wasm_trap_t *host_reply(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *slots,
                               size_t n) {
    (void)env, (void)n;
    int32_t ptr = slots[0].i32, len = slots[1].i32;
    size_t size;
    uint8_t *memory;
    int32_t result;
    if (!current || !current->has_pending) {
        result = E_NO_REPLY;
    } else if (!(memory = guest_memory(caller, &size)) || !inside(ptr, len, size)) {
        result = E_OUTSIDE;
    } else if ((size_t)len < current->pending_len) {
        result = E_TOO_LARGE;
    } else {
        memcpy(memory + ptr, current->pending, current->pending_len);
        result = (int32_t)current->pending_len;
        current->has_pending = 0;
    }
    slots[0].i32 = result;
    return NULL;
}

int core_define_imports(core *c, char *err, size_t errlen) {
    const wasmtime_api *api = &c->api;
    c->linker = api->wasmtime_linker_new(c->engine);
    wasmtime_error_t *error = api->wasmtime_linker_define_wasi(c->linker);
    const char *names[] = {"call", "reply"};
    wasmtime_unchecked_fn fns[] = {host_call, host_reply};
    for (int i = 0; !error && i < 2; i++) {
        wasm_valtype_t *params[] = {api->wasm_valtype_new(WASM_I32), api->wasm_valtype_new(WASM_I32)};
        wasm_valtype_t *results[] = {api->wasm_valtype_new(WASM_I32)};
        wasm_valtype_vec_t pv, rv;
        api->wasm_valtype_vec_new(&pv, 2, params);
        api->wasm_valtype_vec_new(&rv, 1, results);
        wasm_functype_t *type = api->wasm_functype_new(&pv, &rv); /* takes both vectors */
        error = api->wasmtime_linker_define_func_unchecked(c->linker, "airlock", 7, names[i],
                                                          strlen(names[i]), type, fns[i], NULL,
                                                          NULL);
        api->wasm_functype_delete(type);
    }
    if (!error)
        return 0;
    wasm_byte_vec_t message;
    api->wasmtime_error_message(error, &message);
    snprintf(err, errlen, "could not define the run imports: %.*s", (int)message.size,
             (const char *)message.data);
    api->wasm_byte_vec_delete(&message);
    api->wasmtime_error_delete(error);
    return -1;
}

/* --- how a run ends ----------------------------------------------------------------------- */

typedef struct {
    const char *status;
    int has_exit;
    int exit_code;
    char error[600];
} ending;

static void set_ending(ending *e, const char *status, const char *fmt, const char *detail) {
    e->status = status;
    snprintf(e->error, sizeof e->error, fmt, detail);
}

/* The first line of wasmtime's message, stripped (the rest is a backtrace). */
static void first_line(const wasm_byte_vec_t *message, char *out, size_t outlen) {
    size_t start = 0, end = message->size;
    const char *text = (const char *)message->data;
    while (start < end && (text[start] == ' ' || text[start] == '\n' || text[start] == '\t'))
        start++;
    size_t stop = start;
    while (stop < end && text[stop] != '\n')
        stop++;
    while (stop > start && (text[stop - 1] == ' ' || text[stop - 1] == '\r'))
        stop--;
    snprintf(out, outlen, "%.*s", (int)(stop - start), text + start);
    if (!out[0])
        snprintf(out, outlen, "unknown error");
}

static void classify_error(const core *c, wasmtime_error_t *error, ending *e) {
    int code;
    e->has_exit = 0;
    if (c->api.wasmtime_error_exit_status(error, &code)) {
        e->status = code == 0 ? "ok" : "exit_nonzero";
        e->has_exit = 1;
        e->exit_code = code;
        e->error[0] = '\0';
        return;
    }
    wasm_byte_vec_t message;
    char first[400];
    c->api.wasmtime_error_message(error, &message);
    first_line(&message, first, sizeof first);
    c->api.wasm_byte_vec_delete(&message);
    if (strstr(first, "exceeds memory limits"))
        set_ending(e, "memory_limit", "the module's initial memory is too large: %s", first);
    else if (strncmp(first, "unknown import", 14) == 0)
        set_ending(e, "invalid_module", "the module imports what Airlock does not provide: %s",
                   first);
    else
        set_ending(e, "sandbox_error", "wasmtime refused to run the module: %s", first);
}

static void classify_trap(const core *c, const wasm_trap_t *trap, int reason, ending *e) {
    uint8_t code;
    e->has_exit = 0;
    if (!c->api.wasmtime_trap_code(trap, &code)) {
        set_ending(e, "trap", "the module trapped: %s", "unknown");
    } else if (code == TRAP_OUT_OF_FUEL) {
        set_ending(e, "out_of_fuel", "%s", "the module used up its fuel (CPU budget)");
    } else if (code == TRAP_INTERRUPT && reason == REASON_OUTPUT) {
        set_ending(e, "output_limit", "%s", "the module wrote more than its output limit");
    } else if (code == TRAP_INTERRUPT) {
        set_ending(e, "timeout", "%s", "the module ran past its wall-clock timeout");
    } else if (code == TRAP_STACK_OVERFLOW) {
        set_ending(e, "trap", "%s", "the module trapped: stack overflow (runaway recursion?)");
    } else {
        const char *name = code < c->n_trap_names ? c->trap_names[code] : "unknown";
        set_ending(e, "trap", "the module trapped: %s", name);
    }
}

/* --- the job ------------------------------------------------------------------------------ */

typedef struct {
    uint8_t *module, *artifact, *input;
    size_t module_len, artifact_len, input_len;
    char *module_name;
    char **args, **env_names, **env_values, **dir_hosts, **dir_guests;
    int *dir_rw;
    size_t n_args, n_env, n_dirs;
    core_limits limits;
    int host_calls, has_artifact;
} job;

static int decode_bytes(const jvalue *v, const char *where, uint8_t **out, size_t *len,
                        core_failure *why) {
    if (!v || v->type != J_STRING)
        return core_bad_frame(why, where, "expected base64 text");
    if (base64_decode(v->str, v->len, out, len))
        return core_bad_frame(why, where, "not base64");
    return 0;
}

static int decode_job(const core *c, const jvalue *m, job *j, core_failure *why) {
    static const char *const fields[] = {"kind",  "module", "module_name", "artifact",
                                         "input", "args",   "env",         "dirs",
                                         "limits", "host_calls", NULL};
    if (core_only_fields(m, fields, "frame", why))
        return -1;
    const jvalue *kind = json_get(m, "kind");
    if (!kind || kind->type != J_STRING || strcmp(kind->str, "job"))
        return core_bad_frame(why, "kind", "expected 'job'");
    if (decode_bytes(json_get(m, "module"), "module", &j->module, &j->module_len, why))
        return -1;
    const jvalue *name = json_get(m, "module_name");
    if (!name || name->type != J_STRING || strlen(name->str) != name->len)
        return core_bad_frame(why, "module_name", "expected text without NUL");
    j->module_name = name->str;
    const jvalue *artifact = json_get(m, "artifact");
    if (artifact && artifact->type != J_NULL) {
        if (decode_bytes(artifact, "artifact", &j->artifact, &j->artifact_len, why))
            return -1;
        j->has_artifact = 1;
    }
    const jvalue *input = json_get(m, "input");
    if (input && decode_bytes(input, "input", &j->input, &j->input_len, why))
        return -1;
    const jvalue *args = json_get(m, "args");
    if (args && core_string_list(args, "args", &j->args, &j->n_args, why))
        return -1;
    const jvalue *env = json_get(m, "env");
    if (env) {
        if (env->type != J_ARRAY)
            return core_bad_frame(why, "env", "expected a list");
        j->env_names = calloc(env->len + 1, sizeof(char *));
        j->env_values = calloc(env->len + 1, sizeof(char *));
        for (size_t i = 0; i < env->len; i++) {
            char **pair;
            size_t n;
            if (core_string_list(&env->items[i], "env", &pair, &n, why))
                return -1;
            if (n != 2)
                return core_bad_frame(why, "env", "expected [name, value] pairs");
            j->env_names[i] = pair[0];
            j->env_values[i] = pair[1];
            free(pair);
        }
        j->n_env = env->len;
    }
    const jvalue *dirs = json_get(m, "dirs");
    if (dirs) {
        static const char *const dir_fields[] = {"host_path", "guest_path", "access", NULL};
        if (dirs->type != J_ARRAY)
            return core_bad_frame(why, "dirs", "expected a list");
        j->dir_hosts = calloc(dirs->len + 1, sizeof(char *));
        j->dir_guests = calloc(dirs->len + 1, sizeof(char *));
        j->dir_rw = calloc(dirs->len + 1, sizeof(int));
        for (size_t i = 0; i < dirs->len; i++) {
            const jvalue *d = &dirs->items[i];
            if (d->type != J_OBJECT || core_only_fields(d, dir_fields, "dirs", why))
                return why->message[0] ? -1 : core_bad_frame(why, "dirs", "expected objects");
            const jvalue *host = json_get(d, "host_path"), *guest = json_get(d, "guest_path"),
                         *access = json_get(d, "access");
            if (!host || host->type != J_STRING || strlen(host->str) != host->len)
                return core_bad_frame(why, "dirs.host_path", "expected text without NUL");
            if (!guest || guest->type != J_STRING || strlen(guest->str) != guest->len)
                return core_bad_frame(why, "dirs.guest_path", "expected text without NUL");
            if (access && (access->type != J_STRING ||
                           (strcmp(access->str, "ro") && strcmp(access->str, "rw"))))
                return core_bad_frame(why, "dirs.access", "neither 'ro' nor 'rw'");
            j->dir_hosts[i] = host->str;
            j->dir_guests[i] = guest->str;
            j->dir_rw[i] = access && !strcmp(access->str, "rw");
        }
        j->n_dirs = dirs->len;
    }
    j->limits = c->defaults;
    const jvalue *limits = json_get(m, "limits");
    if (limits && core_decode_limits(limits, &j->limits, why))
        return -1;
    const jvalue *host_calls = json_get(m, "host_calls");
    if (host_calls && host_calls->type != J_TRUE && host_calls->type != J_FALSE)
        return core_bad_frame(why, "host_calls", "expected a boolean");
    j->host_calls = host_calls && host_calls->type == J_TRUE;
    return 0;
}

/* --- running ------------------------------------------------------------------------------ */

static void send_done(const core *c, const ending *e, const sink *out, const sink *err,
                      int has_fuel, uint64_t fuel_used, int has_peak, size_t peak) {
    wbuf f = {0};
    wbuf_str(&f, "{\"kind\":\"done\",\"status\":\"");
    wbuf_str(&f, e->status);
    wbuf_str(&f, "\",\"exit_code\":");
    if (e->has_exit)
        wbuf_int(&f, e->exit_code);
    else
        wbuf_str(&f, "null");
    wbuf_str(&f, ",\"stdout\":");
    wbuf_base64(&f, (const uint8_t *)out->data.data, out->data.len);
    wbuf_str(&f, ",\"stderr\":");
    wbuf_base64(&f, (const uint8_t *)err->data.data, err->data.len);
    wbuf_str(&f, ",\"fuel_used\":");
    if (has_fuel)
        wbuf_int(&f, (long long)fuel_used);
    else
        wbuf_str(&f, "null");
    wbuf_str(&f, ",\"peak_memory_bytes\":");
    if (has_peak)
        wbuf_int(&f, (long long)peak);
    else
        wbuf_str(&f, "null");
    wbuf_str(&f, ",\"error\":");
    if (e->error[0])
        wbuf_json_string(&f, e->error, strlen(e->error));
    else
        wbuf_str(&f, "null");
    wbuf_str(&f, "}");
    if (!f.failed)
        frame_write(c->run_out, f.data, f.len);
    wbuf_free(&f);
}

static void send_simple_done(const core *c, const char *status, const char *error) {
    sink none = {0};
    ending e = {.status = status};
    snprintf(e.error, sizeof e.error, "%s", error);
    send_done(c, &e, &none, &none, 0, 0, 0, 0);
}

static void execute(const core *c, wasmtime_module_t *module, job *j) {
    const wasmtime_api *api = &c->api;
    run_state r = {.c = c, .host_calls = j->host_calls};
    r.budget = j->host_calls ? j->limits.max_host_calls : 0;
    r.tick_s = j->limits.timeout_s / TICKS;
    if (r.tick_s < MIN_TICK_S)
        r.tick_s = MIN_TICK_S;
    r.ticks = (uint64_t)(j->limits.timeout_s / r.tick_s);
    if ((double)r.ticks * r.tick_s < j->limits.timeout_s)
        r.ticks++;
    if (!r.ticks)
        r.ticks = 1;
    pthread_mutex_init(&r.lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r.wake, &attr);
    current = &r;
    size_t cap = j->limits.max_output_kb * 1024;
    sink out = {.run = &r, .cap = cap}, err = {.run = &r, .cap = cap};

    wasi_config_t *wasi = api->wasi_config_new();
    const char **argv = calloc(j->n_args + 2, sizeof(char *));
    argv[0] = j->module_name;
    for (size_t i = 0; i < j->n_args; i++)
        argv[i + 1] = j->args[i];
    api->wasi_config_set_argv(wasi, j->n_args + 1, argv);
    api->wasi_config_set_env(wasi, j->n_env, (const char *const *)j->env_names,
                             (const char *const *)j->env_values);
    wasm_byte_vec_t input;
    api->wasm_byte_vec_new(&input, j->input_len, j->input);
    api->wasi_config_set_stdin_bytes(wasi, &input); /* takes the vector */
    api->wasi_config_set_stdout_custom(wasi, sink_write, &out, NULL);
    api->wasi_config_set_stderr_custom(wasi, sink_write, &err, NULL);
    for (size_t i = 0; i < j->n_dirs; i++) {
        if (!api->wasi_config_preopen_dir(wasi, j->dir_hosts[i], j->dir_guests[i], j->dir_rw[i])) {
            core_failure why = {.hardening = 0};
            snprintf(why.message, sizeof why.message,
                     "WasmtimeError: failed to add preopen dir %s", j->dir_hosts[i]);
            core_write_failed(c, &why);
            return;
        }
    }
    wasmtime_store_t *store = api->wasmtime_store_new(c->engine, NULL, NULL);
    wasmtime_context_t *ctx = api->wasmtime_store_context(store);
    wasmtime_error_t *error = api->wasmtime_context_set_wasi(ctx, wasi); /* takes the config */
    if (!error)
        error = api->wasmtime_context_set_fuel(ctx, j->limits.fuel);
    if (error) {
        ending e;
        classify_error(c, error, &e);
        core_failure why = {.hardening = 0};
        snprintf(why.message, sizeof why.message, "%s", e.error);
        core_write_failed(c, &why);
        return;
    }
    api->wasmtime_context_set_epoch_deadline(ctx, r.ticks);
    uint64_t memory_cap = j->limits.memory_mb * 1024 * 1024;
    api->wasmtime_store_limiter(store, (int64_t)memory_cap, MAX_TABLE_ELEMENTS, MAX_INSTANCES,
                                MAX_TABLES, MAX_MEMORIES);

    pthread_t thread;
    /* Started after the run's Landlock layer (which binds only the threads started after it). */
    int started = pthread_create(&thread, NULL, ticker, &r) == 0;
    ending e = {.status = "ok", .has_exit = 1, .exit_code = 0};
    wasmtime_instance_t instance;
    wasm_trap_t *trap = NULL;
    int instantiated = 0;
    if (!started) {
        set_ending(&e, "sandbox_error", "could not start the deadline thread: %s",
                   strerror(errno));
        e.has_exit = 0;
    } else if ((error = api->wasmtime_linker_instantiate(c->linker, ctx, module, &instance,
                                                         &trap))) {
        classify_error(c, error, &e);
    } else if (trap) {
        classify_trap(c, trap, r.reason, &e);
    } else {
        instantiated = 1;
        wasmtime_extern_t start;
        if (!api->wasmtime_instance_export_get(ctx, &instance, "_start", 6, &start) ||
            start.kind != WASMTIME_EXTERN_FUNC) {
            set_ending(&e, "invalid_module", "%s",
                       "the module exports no _start function (not a WASI command module)");
            e.has_exit = 0;
        } else if ((error = api->wasmtime_func_call(ctx, &start.of.func, NULL, 0, NULL, 0,
                                                    &trap))) {
            classify_error(c, error, &e);
        } else if (trap) {
            classify_trap(c, trap, r.reason, &e);
        }
    }
    if (started) {
        pthread_mutex_lock(&r.lock);
        r.stop = 1;
        pthread_cond_signal(&r.wake);
        pthread_mutex_unlock(&r.lock);
        pthread_join(thread, NULL);
    }
    size_t peak = 0;
    int has_peak = 0;
    wasmtime_extern_t memory;
    if (instantiated && api->wasmtime_instance_export_get(ctx, &instance, "memory", 6, &memory) &&
        memory.kind == WASMTIME_EXTERN_MEMORY) {
        peak = api->wasmtime_memory_data_size(ctx, &memory.of.memory);
        has_peak = 1;
    }
    int memory_failure = !strcmp(e.status, "trap") || !strcmp(e.status, "exit_nonzero");
    if (out.overflowed || err.overflowed) {
        char kb[32];
        snprintf(kb, sizeof kb, "%llu", (unsigned long long)j->limits.max_output_kb);
        set_ending(&e, "output_limit", "the module wrote more than %s KiB", kb);
    } else if (memory_failure && has_peak && peak + PAGE > memory_cap) {
        /* wasmtime refuses memory.grow with -1 and no trap code; a module that then fails while
         * its memory cannot grow by one more page ran out of its memory limit. */
        char mb[32];
        snprintf(mb, sizeof mb, "%llu", (unsigned long long)j->limits.memory_mb);
        set_ending(&e, "memory_limit", "the module needed more than its %s MiB memory limit", mb);
    }
    uint64_t left = 0;
    api->wasmtime_context_get_fuel(ctx, &left);
    send_done(c, &e, &out, &err, 1, j->limits.fuel - left, has_peak, peak);
    current = NULL;
}

void core_serve_job(const core *c) {
    const wasmtime_api *api = &c->api;
    char *body;
    size_t len;
    core_failure why = {.hardening = 0};
    if (frame_read(c->run_in, MAX_JOB_FRAME, &body, &len)) {
        return; /* the supervisor went away or sent an oversized frame: it kills us anyway */
    }
    jvalue msg;
    char err[160];
    job j = {0};
    if (json_parse(body, len, &msg, err, sizeof err)) {
        free(body);
        core_bad_frame(&why, "frame", "not JSON");
        core_write_failed(c, &why);
        return;
    }
    free(body);
    if (decode_job(c, &msg, &j, &why)) {
        core_write_failed(c, &why);
        return;
    }
    wasmtime_module_t *module = NULL;
    wasmtime_error_t *error = NULL;
    if (j.module_len < 4 || memcmp(j.module, "\0asm", 4)) {
        send_simple_done(c, "invalid_module",
                         "invalid module: the file does not start with the \\0asm magic bytes (it "
                         "is not a WebAssembly binary)");
        return;
    }
    if (j.has_artifact) {
        error = api->wasmtime_module_deserialize(c->engine, j.artifact, j.artifact_len, &module);
        if (error) { /* stale or foreign artifact: compile again below */
            api->wasmtime_error_delete(error);
            module = NULL;
        }
    }
    if (!module) {
        error = api->wasmtime_module_new(c->engine, j.module, j.module_len, &module);
        if (error) {
            wasm_byte_vec_t message;
            api->wasmtime_error_message(error, &message);
            /* the last non-empty line: wasmtime's own cause, after its context lines */
            const char *text = (const char *)message.data;
            size_t end = message.size, start;
            while (end && (text[end - 1] == '\n' || text[end - 1] == ' '))
                end--;
            start = end;
            while (start && text[start - 1] != '\n')
                start--;
            while (start < end && text[start] == ' ')
                start++;
            char detail[500];
            snprintf(detail, sizeof detail, "invalid module: %.*s", (int)(end - start),
                     end > start ? text + start : "unknown error");
            api->wasm_byte_vec_delete(&message);
            api->wasmtime_error_delete(error);
            send_simple_done(c, "invalid_module", detail);
            return;
        }
        wasm_byte_vec_t artifact;
        if (!(error = api->wasmtime_module_serialize(module, &artifact))) {
            wbuf f = {0};
            wbuf_str(&f, "{\"kind\":\"compiled\",\"artifact\":");
            wbuf_base64(&f, artifact.data, artifact.size);
            wbuf_str(&f, "}");
            if (!f.failed)
                frame_write(c->run_out, f.data, f.len);
            wbuf_free(&f);
            api->wasm_byte_vec_delete(&artifact);
        } else {
            api->wasmtime_error_delete(error);
        }
    }
    execute(c, module, &j);
}
