/* sandbox._runcore: the Python face of the native run core (see runcore.h).
 *
 * configure(**fields) once per process (the zygote), then fork_spare() per run. harden_here()
 * applies a run's layers to the calling process exactly as a spare does, for the attack tests
 * that play an escaped module in a run child. Everything passed in is trusted (the zygote
 * builds it from its own state); nothing here reads from the run pipe but the spare itself.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

#include "runcore.h"

static core the_core;
static int configured;

int wasmtime_api_load(wasmtime_api *api, const char *path, char *err, size_t errlen) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!lib)
        lib = dlopen(path, RTLD_NOW);
    if (!lib) {
        snprintf(err, errlen, "cannot load wasmtime's library %s: %s", path, dlerror());
        return -1;
    }
#define WASMTIME_RESOLVE(ret, name, params)                                                     \
    if (!(*(void **)&api->name = dlsym(lib, #name))) {                                          \
        snprintf(err, errlen, "wasmtime's library %s has no %s (a different wasmtime version?)", \
                 path, #name);                                                                  \
        return -1;                                                                              \
    }
    WASMTIME_FUNCTIONS(WASMTIME_RESOLVE)
#undef WASMTIME_RESOLVE
    return 0;
}

/* A Python list of str as a NULL-terminated, malloc'd array of copies; -1 with an exception. */
static int strings(PyObject *list, const char *what, char ***out, size_t *n, size_t max) {
    if (!PyList_Check(list))
        return PyErr_Format(PyExc_TypeError, "%s must be a list of str", what), -1;
    Py_ssize_t count = PyList_GET_SIZE(list);
    if ((size_t)count > max)
        return PyErr_Format(PyExc_ValueError, "%s: more than %zu items", what, max), -1;
    char **items = calloc((size_t)count + 1, sizeof(char *));
    if (!items)
        return PyErr_NoMemory(), -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(list, i));
        if (!s || !(items[i] = strdup(s)))
            return s ? (PyErr_NoMemory(), -1) : -1;
    }
    *out = items;
    *n = (size_t)count;
    return 0;
}

PyDoc_STRVAR(configure_doc,
             "configure(**fields) -> None\n\nSet up this process's run core (once, in the "
             "zygote); see sandbox/zygote.py for the fields.");

static PyObject *configure(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kw[] = {"library",    "engine",       "run_in",      "run_out",   "ctl_out",
                         "abi",        "handled_fs",   "scoped",      "fs_read",   "fs_read_write",
                         "fs_dir_only", "read_paths",  "run_filter",  "filter_syscall",
                         "runtime_as", "cpu_grace_s",  "nofile",      "nproc",     "fsize",
                         "report_fields", "notes",     "held",        "degraded",  "defaults",
                         "trap_names", NULL};
    const char *library, *report_fields;
    unsigned long long engine, handled_fs, scoped, fs_read, fs_read_write, fs_dir_only;
    unsigned long long runtime_as, cpu_grace_s, nofile, nproc, fsize;
    int run_in, run_out, ctl_out, abi;
    long filter_syscall;
    PyObject *read_paths, *run_filter, *notes, *held, *degraded, *trap_names;
    core_limits d;
    (void)self;
    if (configured) {
        PyErr_SetString(PyExc_RuntimeError, "the run core is already configured in this process");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "$sKiiiiKKKKKOOlKKKKKsOOO(KKdKK)O", kw, &library, &engine, &run_in,
            &run_out, &ctl_out, &abi, &handled_fs, &scoped, &fs_read, &fs_read_write,
            &fs_dir_only, &read_paths, &run_filter, &filter_syscall, &runtime_as, &cpu_grace_s,
            &nofile, &nproc, &fsize, &report_fields, &notes, &held, &degraded, &d.fuel,
            &d.memory_mb, &d.timeout_s, &d.max_output_kb, &d.max_host_calls, &trap_names))
        return NULL;
    core *c = &the_core;
    memset(c, 0, sizeof *c);
    char err[300];
    if (wasmtime_api_load(&c->api, library, err, sizeof err)) {
        PyErr_SetString(PyExc_OSError, err);
        return NULL;
    }
    c->engine = (wasm_engine_t *)(uintptr_t)engine;
    c->run_in = run_in, c->run_out = run_out, c->ctl_out = ctl_out;
    c->abi = abi;
    c->handled_fs = handled_fs, c->scoped = scoped, c->fs_read = fs_read;
    c->fs_read_write = fs_read_write, c->fs_dir_only = fs_dir_only;
    c->runtime_as = runtime_as, c->cpu_grace_s = cpu_grace_s;
    c->nofile = nofile, c->nproc = nproc, c->fsize = fsize;
    c->filter_syscall = filter_syscall;
    c->defaults = d;
    char **paths, **names;
    size_t n_paths, n_names;
    if (strings(read_paths, "read_paths", &paths, &n_paths, CORE_MAX_PATHS) ||
        strings(trap_names, "trap_names", &names, &n_names, CORE_MAX_TRAP_CODES) ||
        strings(notes, "notes", &c->notes, &c->n_notes, 256) ||
        strings(held, "held", &c->held, &c->n_held, 16))
        return NULL;
    memcpy(c->read_paths, paths, n_paths * sizeof(char *));
    c->n_read_paths = n_paths;
    memcpy(c->trap_names, names, n_names * sizeof(char *));
    c->n_trap_names = n_names;
    free(paths), free(names);
    if (run_filter != Py_None) {
        char *bpf;
        Py_ssize_t bpf_len;
        if (PyBytes_AsStringAndSize(run_filter, &bpf, &bpf_len))
            return NULL;
        if (!(c->filter = malloc((size_t)bpf_len)))
            return PyErr_NoMemory();
        memcpy(c->filter, bpf, (size_t)bpf_len);
        c->filter_len = (size_t)bpf_len;
    }
    if (!PyList_Check(degraded))
        return PyErr_Format(PyExc_TypeError, "degraded must be a list of (layer, message)");
    c->n_degraded = (size_t)PyList_GET_SIZE(degraded);
    c->degraded = calloc(c->n_degraded + 1, sizeof(core_degraded));
    for (size_t i = 0; i < c->n_degraded; i++) {
        const char *layer, *message;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(degraded, i), "ss", &layer, &message))
            return NULL;
        c->degraded[i].layer = strdup(layer);
        c->degraded[i].message = strdup(message);
    }
    c->report_fields = strdup(report_fields);
    if (core_define_imports(c, err, sizeof err)) {
        PyErr_SetString(PyExc_OSError, err);
        return NULL;
    }
    configured = 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(fork_spare_doc,
             "fork_spare() -> int\n\nFork the next run child and return its pid. The child "
             "never returns to Python: it waits for its run on the run pipe, runs it, and exits.");

static PyObject *fork_spare(PyObject *self, PyObject *unused) {
    (void)self, (void)unused;
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure() the run core first");
        return NULL;
    }
    int zygote = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    if (pid == 0)
        core_spare_main(&the_core, zygote); /* no Python in the child, and no return */
    return PyLong_FromLong(pid);
}

PyDoc_STRVAR(harden_here_doc,
             "harden_here(setup: bytes) -> tuple[bool, bytes]\n\nApply a run's layers to this "
             "process as a spare does (its ruleset, the Setup's rlimits, grants and the run "
             "filter); returns (True, the Ready frame body) or (False, the Failed frame body). "
             "For tests playing an escaped module; irreversible.");

static PyObject *harden_here(PyObject *self, PyObject *arg) {
    (void)self;
    char *body;
    Py_ssize_t len;
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure() the run core first");
        return NULL;
    }
    if (PyBytes_AsStringAndSize(arg, &body, &len))
        return NULL;
    core_setup setup;
    core_failure why = {.hardening = 0};
    wbuf out = {0};
    if (prctl(PR_SET_PDEATHSIG, SIGKILL)) /* as a spare does first */
        return PyErr_SetFromErrno(PyExc_OSError);
    int ruleset = core_prepare_ruleset(&the_core);
    int ok = core_decode_setup(&the_core, body, (size_t)len, &setup, &why) == 0 &&
             core_harden_run(&the_core, &setup, ruleset, &out, &why) == 0;
    if (ruleset >= 0)
        close(ruleset);
    if (!ok) {
        wbuf_free(&out);
        wbuf_str(&out, "{\"kind\":\"failed\",\"error\":");
        wbuf_json_string(&out, why.message, strlen(why.message));
        wbuf_str(&out, why.hardening ? ",\"hardening\":true}" : ",\"hardening\":false}");
    }
    PyObject *result = Py_BuildValue("(Ny#)", PyBool_FromLong(ok), out.data, (Py_ssize_t)out.len);
    wbuf_free(&out);
    return result;
}

PyDoc_STRVAR(layouts_doc, "layouts() -> dict[str, int]\n\nsizeof and offsets of the wasmtime "
                          "structs as this core declares them (checked against the wheel).");

static PyObject *layouts(PyObject *self, PyObject *unused) {
    (void)self, (void)unused;
    return Py_BuildValue("{s:n,s:n,s:n,s:n,s:n,s:n,s:n}", "wasmtime_extern",
                         (Py_ssize_t)sizeof(wasmtime_extern_t), "wasmtime_extern.of",
                         (Py_ssize_t)offsetof(wasmtime_extern_t, of), "wasmtime_func",
                         (Py_ssize_t)sizeof(wasmtime_func_t), "wasmtime_memory",
                         (Py_ssize_t)sizeof(wasmtime_memory_t), "wasmtime_instance",
                         (Py_ssize_t)sizeof(wasmtime_instance_t), "wasmtime_val_raw",
                         (Py_ssize_t)sizeof(wasmtime_val_raw_t), "wasm_byte_vec_t",
                         (Py_ssize_t)sizeof(wasm_byte_vec_t));
}

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     configure_doc},
    {"fork_spare", fork_spare, METH_NOARGS, fork_spare_doc},
    {"harden_here", harden_here, METH_O, harden_here_doc},
    {"layouts", layouts, METH_NOARGS, layouts_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sandbox._runcore",
    "The warm path's native run child (sandbox/native/runcore.h).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__runcore(void) { return PyModule_Create(&module); }
