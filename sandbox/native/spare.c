/* A spare run child's life, as sandbox.zygote described it for the Python run child it replaces:
 * prepare its own Landlock ruleset, wait for its run's trusted Setup, apply the run layers,
 * say Ready, and only then read the untrusted Job. The decoding is as strict as
 * sandbox/childwire.py: unknown fields, a wrong kind and wrongly typed values are refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "runcore.h"

#define MAX_CONTROL_FRAME (1024 * 1024)

int core_bad_frame(core_failure *why, const char *where, const char *what) {
    snprintf(why->message, sizeof why->message, "invalid frame from supervisor: %s: %s", where,
             what);
    why->hardening = 0;
    return -1;
}

int core_only_fields(const jvalue *v, const char *const *names, const char *where,
                     core_failure *why) {
    if (v->type != J_OBJECT)
        return core_bad_frame(why, where, "expected an object");
    for (size_t i = 0; i < v->len; i++) {
        int known = 0;
        for (const char *const *name = names; *name && !known; name++)
            known = !strcmp(v->keys[i].str, *name);
        for (size_t k = 0; known && k < i; k++)
            known = strcmp(v->keys[k].str, v->keys[i].str) != 0; /* a repeated key: refused */
        if (!known) {
            char what[160];
            snprintf(what, sizeof what, "unknown or repeated field '%.100s'", v->keys[i].str);
            return core_bad_frame(why, where, what);
        }
    }
    return 0;
}

int core_string_list(const jvalue *v, const char *where, char ***out, size_t *n,
                     core_failure *why) {
    if (v->type != J_ARRAY)
        return core_bad_frame(why, where, "expected a list");
    char **items = calloc(v->len + 1, sizeof(char *));
    if (!items)
        return core_bad_frame(why, where, "out of memory");
    for (size_t i = 0; i < v->len; i++) {
        const jvalue *item = &v->items[i];
        if (item->type != J_STRING || strlen(item->str) != item->len) {
            free(items);
            return core_bad_frame(why, where, "expected text without NUL");
        }
        items[i] = item->str;
    }
    *out = items;
    *n = v->len;
    return 0;
}

static int whole_number(const jvalue *v, uint64_t *out) {
    if (v->type != J_NUMBER || strpbrk(v->str, ".eE-"))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v->str, &end, 10);
    if (errno || *end)
        return -1;
    *out = n;
    return 0;
}

int core_decode_limits(const jvalue *v, core_limits *out, core_failure *why) {
    static const char *const fields[] = {"fuel", "memory_mb", "timeout_s", "max_output_kb",
                                         "max_host_calls", NULL};
    if (core_only_fields(v, fields, "limits", why))
        return -1;
    struct {
        const char *name;
        uint64_t *slot;
    } ints[] = {{"fuel", &out->fuel},
                {"memory_mb", &out->memory_mb},
                {"max_output_kb", &out->max_output_kb},
                {"max_host_calls", &out->max_host_calls}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const jvalue *item = json_get(v, ints[i].name);
        if (item && whole_number(item, ints[i].slot))
            return core_bad_frame(why, ints[i].name, "expected a whole number");
    }
    const jvalue *timeout = json_get(v, "timeout_s");
    if (timeout) {
        char *end;
        double t = timeout->type == J_NUMBER ? strtod(timeout->str, &end) : -1;
        if (timeout->type != J_NUMBER || *end || !isfinite(t) || t <= 0)
            return core_bad_frame(why, "timeout_s", "expected a positive number");
        out->timeout_s = t;
    }
    return 0;
}

static const char *const LAYERS[] = {"landlock_fs",  "landlock_net", "landlock_scope",
                                     "seccomp",      "no_new_privs", "caps_dropped", NULL};

int core_decode_setup(const core *c, const char *body, size_t len, core_setup *out,
                      core_failure *why) {
    static const char *const fields[] = {"kind", "ro_paths", "rw_paths", "limits", "require",
                                         NULL};
    jvalue m;
    char err[160];
    memset(out, 0, sizeof *out);
    out->limits = c->defaults;
    if (json_parse(body, len, &m, err, sizeof err))
        return core_bad_frame(why, "frame", "not JSON");
    /* The strings stay owned by `m`, which lives as long as the process (one run). */
    const jvalue *kind = json_get(&m, "kind"), *v;
    if (core_only_fields(&m, fields, "frame", why))
        return -1;
    if (!kind || kind->type != J_STRING || strcmp(kind->str, "setup"))
        return core_bad_frame(why, "kind", "expected 'setup'");
    if ((v = json_get(&m, "ro_paths")) && core_string_list(v, "ro_paths", &out->ro_paths, &out->n_ro, why))
        return -1;
    if ((v = json_get(&m, "rw_paths")) && core_string_list(v, "rw_paths", &out->rw_paths, &out->n_rw, why))
        return -1;
    if ((v = json_get(&m, "require")) &&
        core_string_list(v, "require", &out->require, &out->n_require, why))
        return -1;
    for (size_t i = 0; i < out->n_require; i++) {
        int known = 0;
        for (const char *const *layer = LAYERS; *layer && !known; layer++)
            known = !strcmp(*layer, out->require[i]);
        if (!known)
            return core_bad_frame(why, "require", "unknown layer");
    }
    if ((v = json_get(&m, "limits")) && core_decode_limits(v, &out->limits, why))
        return -1;
    return 0;
}

void core_write_failed(const core *c, const core_failure *why) {
    wbuf f = {0};
    wbuf_str(&f, "{\"kind\":\"failed\",\"error\":");
    wbuf_json_string(&f, why->message, strlen(why->message));
    wbuf_str(&f, why->hardening ? ",\"hardening\":true}" : ",\"hardening\":false}");
    if (!f.failed)
        frame_write(c->run_out, f.data, f.len);
    wbuf_free(&f);
}

void core_spare_main(const core *c, int zygote) {
    /* Die with the zygote (fork cleared the signal); a zygote already gone means exit now. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != zygote)
        _exit(1);
    close(c->ctl_out); /* the run child never sees the zygote's report channel */
    int ruleset = core_prepare_ruleset(c); /* before any byte of the run is read */
    char *body;
    size_t len;
    if (frame_read(c->run_in, MAX_CONTROL_FRAME, &body, &len))
        _exit(0); /* the supervisor closed the sandbox: nothing to run */
    core_setup setup;
    core_failure why = {.hardening = 0};
    wbuf ready = {0};
    if (core_decode_setup(c, body, len, &setup, &why) ||
        core_harden_run(c, &setup, ruleset, &ready, &why)) {
        core_write_failed(c, &why);
        _exit(1);
    }
    if (ruleset >= 0)
        close(ruleset);
    if (frame_write(c->run_out, ready.data, ready.len))
        _exit(1);
    core_serve_job(c);
    _exit(0);
}
