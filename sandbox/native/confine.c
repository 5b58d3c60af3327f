/* The run layers, as sandbox.harden.apply.harden_run applied them in a Python run child:
 * rlimits lowered to the run's, a Landlock filesystem layer (the runtime's read rules, the
 * run's grants, the scopes again so that this child's own domain is the boundary), the run
 * seccomp program. The zygote already applied the base layers (descriptors, no_new_privs,
 * capabilities, Landlock network and scopes, the base filter); the Ready report says what holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runcore.h"

#define MIB (1024ull * 1024ull)

/* The kernel's structs, declared here: Debian's headers predate the `scoped` field (ABI 6). A
 * kernel accepts the full ruleset struct as long as the fields it does not know are zero, which
 * they are when the zygote passes only rights its ABI knows. */
struct ruleset_attr {
    uint64_t handled_access_fs, handled_access_net, scoped;
};
struct path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
#define RULE_PATH_BENEATH 1

static int add_path_rule(const core *c, int ruleset, const char *path, uint64_t access) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    uint64_t allowed = access & c->handled_fs;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        allowed &= ~c->fs_dir_only; /* rights that need a directory are refused for files */
    int rc = 0;
    if (allowed) {
        struct path_beneath_attr attr = {.allowed_access = allowed, .parent_fd = fd};
        rc = (int)syscall(SYS_landlock_add_rule, ruleset, RULE_PATH_BENEATH, &attr, 0);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int core_prepare_ruleset(const core *c) {
    if (!c->abi)
        return -1;
    /* Scopes are relative to the layer that declares them: scoping this layer too makes the run
     * child's own domain the boundary, not its zygote's. */
    struct ruleset_attr attr = {.handled_access_fs = c->handled_fs, .scoped = c->scoped};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0)
        return -1;
    for (size_t i = 0; i < c->n_read_paths; i++)
        add_path_rule(c, ruleset, c->read_paths[i], c->fs_read); /* missing: left out */
    /* /proc/<pid>, not /proc/self: a rule binds to what its path resolves to now. */
    char own[32];
    snprintf(own, sizeof own, "/proc/%d", (int)getpid());
    add_path_rule(c, ruleset, own, c->fs_read);
    return ruleset;
}

__attribute__((format(printf, 3, 4))) static int fail(core_failure *why, int hardening,
                                                      const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(why->message, sizeof why->message, fmt, args);
    va_end(args);
    why->hardening = hardening;
    return -1;
}

typedef struct {
    const char *key;
    int resource;
    uint64_t value;
} wanted_limit;

/* Set each limit (soft = hard); a limit above the inherited hard one keeps that, with a note. */
static int apply_rlimits(wanted_limit *limits, size_t n, wbuf *notes, core_failure *why) {
    for (size_t i = 0; i < n; i++) {
        struct rlimit rl = {limits[i].value, limits[i].value};
        if (setrlimit(limits[i].resource, &rl) == 0)
            continue;
        struct rlimit now;
        if (getrlimit(limits[i].resource, &now) || now.rlim_max == RLIM_INFINITY ||
            now.rlim_max >= limits[i].value)
            return fail(why, 1, "could not set rlimit %s: %s", limits[i].key, strerror(errno));
        rl.rlim_cur = rl.rlim_max = now.rlim_max;
        if (setrlimit(limits[i].resource, &rl))
            return fail(why, 1, "could not set rlimit %s: %s", limits[i].key, strerror(errno));
        char note[200];
        snprintf(note, sizeof note,
                 "rlimit %s: kept the inherited hard limit %llu, not %llu (limits can only go "
                 "down once capabilities are dropped)",
                 limits[i].key, (unsigned long long)now.rlim_max,
                 (unsigned long long)limits[i].value);
        wbuf_str(notes, notes->len ? "," : "");
        wbuf_json_string(notes, note, strlen(note));
    }
    return 0;
}

static int required(const core_setup *setup, const char *layer) {
    for (size_t i = 0; i < setup->n_require; i++)
        if (strcmp(setup->require[i], layer) == 0)
            return 1;
    return 0;
}

static int held(const core *c, const char *layer) {
    for (size_t i = 0; i < c->n_held; i++)
        if (strcmp(c->held[i], layer) == 0)
            return 1;
    return 0;
}

static int check_layers(const core *c, const core_setup *setup, core_failure *why) {
    for (size_t i = 0; i < c->n_degraded; i++)
        if (required(setup, c->degraded[i].layer))
            return fail(why, 1, "%s", c->degraded[i].message);
    wbuf missing = {0};
    for (size_t i = 0; i < setup->n_require; i++) {
        if (held(c, setup->require[i]))
            continue;
        wbuf_str(&missing, missing.len ? ", " : "");
        wbuf_str(&missing, setup->require[i]);
    }
    if (missing.len) {
        fail(why, 1, "the run requires %s, not enforced here", missing.data);
        wbuf_free(&missing);
        return -1;
    }
    return 0;
}

static int restrict_filesystem(const core *c, const core_setup *setup, int ruleset,
                               core_failure *why) {
    for (size_t i = 0; i < setup->n_ro + setup->n_rw; i++) {
        int rw = i >= setup->n_ro;
        const char *path = rw ? setup->rw_paths[i - setup->n_ro] : setup->ro_paths[i];
        struct stat st;
        if (stat(path, &st))
            return fail(why, 1,
                        "granted path %s does not exist (create the directory before the run "
                        "or remove it from the grant)",
                        path);
        if (ruleset >= 0 && add_path_rule(c, ruleset, path, rw ? c->fs_read_write : c->fs_read))
            return fail(why, 1, "Landlock refused the grant %s: %s", path, strerror(errno));
    }
    if (ruleset < 0)
        return 0; /* no Landlock here: reported as degraded, refused above if required */
    if (syscall(SYS_landlock_restrict_self, ruleset, 0))
        return fail(why, 1, "Landlock could not enforce the run's ruleset: %s", strerror(errno));
    return 0;
}

static int load_filter(const core *c, core_failure *why) {
    if (!c->filter)
        return 0;
    struct sock_fprog prog = {
        .len = (unsigned short)(c->filter_len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)c->filter,
    };
    long failed = syscall(c->filter_syscall, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
                          &prog);
    if (failed < 0)
        return fail(why, 1, "seccomp refused the run filter: %s", strerror(errno));
    if (failed > 0)
        return fail(why, 1, "seccomp could not synchronise thread %ld", failed);
    return 0;
}

int core_harden_run(const core *c, const core_setup *setup, int ruleset, wbuf *ready,
                    core_failure *why) {
    if (check_layers(c, setup, why))
        return -1;
    const core_limits *l = &setup->limits;
    uint64_t cpu = (uint64_t)l->timeout_s;
    if ((double)cpu < l->timeout_s)
        cpu++;
    wanted_limit limits[] = {
        {"as", RLIMIT_AS, c->runtime_as + 2 * l->memory_mb * MIB},
        {"cpu", RLIMIT_CPU, cpu + c->cpu_grace_s},
        {"nofile", RLIMIT_NOFILE, c->nofile},
        {"nproc", RLIMIT_NPROC, c->nproc},
        {"fsize", RLIMIT_FSIZE, c->fsize},
        {"core", RLIMIT_CORE, 0},
    };
    size_t n = sizeof limits / sizeof limits[0];
    wbuf notes = {0};
    for (size_t i = 0; i < c->n_notes; i++) {
        wbuf_str(&notes, i ? "," : "");
        wbuf_json_string(&notes, c->notes[i], strlen(c->notes[i]));
    }
    if (apply_rlimits(limits, n, &notes, why) || restrict_filesystem(c, setup, ruleset, why) ||
        load_filter(c, why)) {
        wbuf_free(&notes);
        return -1;
    }
    wbuf_str(ready, "{\"kind\":\"ready\",\"enforcement\":{");
    wbuf_str(ready, c->report_fields);
    wbuf_str(ready, ",\"rlimits\":{");
    for (size_t i = 0; i < n; i++) {
        struct rlimit now;
        getrlimit(limits[i].resource, &now);
        wbuf_str(ready, i ? ",\"" : "\"");
        wbuf_str(ready, limits[i].key);
        wbuf_str(ready, "\":");
        wbuf_int(ready, now.rlim_max == RLIM_INFINITY ? -1 : (long long)now.rlim_max);
    }
    wbuf_str(ready, "},\"notes\":[");
    if (notes.len)
        wbuf_put(ready, notes.data, notes.len);
    wbuf_str(ready, "]}}");
    wbuf_free(&notes);
    return ready->failed ? fail(why, 0, "out of memory") : 0;
}
