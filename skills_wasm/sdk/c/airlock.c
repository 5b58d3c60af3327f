/* Airlock skill SDK for C: arguments, result writer, errors, host calls. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock.h"

#define MAX_INPUT (1024 * 1024) /* the host caps stdin at 1 MiB too */
#define MAX_REPLY (16 * 1024 * 1024)

/* ---- writer ---- */

static void put(jw *w, const char *s, size_t n) {
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (w->len + n + 1 > cap) cap *= 2;
        char *d = realloc(w->data, cap);
        if (!d) {
            fputs("{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}\n", stdout);
            exit(1);
        }
        w->data = d;
        w->cap = cap;
    }
    memcpy(w->data + w->len, s, n);
    w->len += n;
    w->data[w->len] = 0;
}

static void sep(jw *w) {
    if (w->after_key) { w->after_key = 0; return; }
    if (w->depth > 0 && !w->fresh[w->depth]) put(w, ",", 1);
    w->fresh[w->depth] = 0;
}

void jw_init(jw *w) { memset(w, 0, sizeof *w); }

static void open_(jw *w, const char *c) {
    sep(w);
    put(w, c, 1);
    if (w->depth < 63) w->depth++;
    w->fresh[w->depth] = 1;
}

static void close_(jw *w, const char *c) {
    put(w, c, 1);
    if (w->depth > 0) w->depth--;
}

void jw_object(jw *w) { open_(w, "{"); }
void jw_end_object(jw *w) { close_(w, "}"); }
void jw_array(jw *w) { open_(w, "["); }
void jw_end_array(jw *w) { close_(w, "]"); }

static void quoted(jw *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') put(w, "\\\"", 2);
        else if (c == '\\') put(w, "\\\\", 2);
        else if (c == '\n') put(w, "\\n", 2);
        else if (c == '\r') put(w, "\\r", 2);
        else if (c == '\t') put(w, "\\t", 2);
        else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, e, 6);
        } else put(w, (const char *)&s[i], 1);
    }
    put(w, "\"", 1);
}

void jw_key(jw *w, const char *key) {
    sep(w);
    quoted(w, key, strlen(key));
    put(w, ":", 1);
    w->after_key = 1;
}

void jw_string_n(jw *w, const char *s, size_t n) { sep(w); quoted(w, s, n); }
void jw_string(jw *w, const char *s) { jw_string_n(w, s, strlen(s)); }

void jw_number(jw *w, double v) {
    char buf[40];
    sep(w);
    if (v != v || v - v != 0) { put(w, "null", 4); return; } /* NaN, inf: not JSON */
    int n = snprintf(buf, sizeof buf, "%.17g", v);
    /* Prefer the shortest form that reads back exactly. */
    for (int p = 1; p <= 17; p++) {
        char t[40];
        int m = snprintf(t, sizeof t, "%.*g", p, v);
        if (strtod(t, NULL) == v) { put(w, t, (size_t)m); return; }
    }
    put(w, buf, (size_t)n);
}

void jw_int(jw *w, long long v) {
    char buf[24];
    sep(w);
    put(w, buf, (size_t)snprintf(buf, sizeof buf, "%lld", v));
}

void jw_bool(jw *w, int v) { sep(w); put(w, v ? "true" : "false", v ? 4 : 5); }
void jw_null(jw *w) { sep(w); put(w, "null", 4); }

_Noreturn void airlock_ok(jw *w) {
    fwrite(w->data, 1, w->len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    exit(0);
}

_Noreturn void airlock_fail(const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "error");
    jw_object(&w);
    jw_key(&w, "code");
    jw_string(&w, code);
    jw_key(&w, "message");
    jw_string(&w, msg);
    jw_end_object(&w);
    jw_end_object(&w);
    fwrite(w.data, 1, w.len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    exit(1);
}

/* ---- arguments ---- */

const aj_value *airlock_args(void) {
    static aj_value *args;
    if (args) return args;
    char *buf = malloc(MAX_INPUT + 1);
    if (!buf) airlock_fail("out_of_memory", "cannot allocate the input buffer");
    size_t n = 0;
    for (;;) {
        ssize_t r = read(0, buf + n, MAX_INPUT + 1 - n);
        if (r < 0) airlock_fail("bad_arguments", "cannot read arguments from stdin");
        if (r == 0) break;
        n += (size_t)r;
        if (n > MAX_INPUT) airlock_fail("bad_arguments", "arguments are over %d bytes", MAX_INPUT);
    }
    char err[128];
    args = aj_parse(buf, n, err, sizeof err);
    if (!args) airlock_fail("bad_arguments", "arguments are not valid JSON: %s", err);
    if (args->type != AJ_OBJECT) airlock_fail("bad_arguments", "arguments must be a JSON object");
    return args;
}

const char *airlock_arg_str(const aj_value *args, const char *key, const char *fallback) {
    const aj_value *v = aj_get(args, key);
    if (!v) return fallback;
    if (v->type != AJ_STRING) airlock_fail("bad_arguments", "`%s` must be a string", key);
    if (strlen(v->str) != v->len) airlock_fail("bad_arguments", "`%s` contains a NUL byte", key);
    return v->str;
}

double airlock_arg_num(const aj_value *args, const char *key, double fallback) {
    const aj_value *v = aj_get(args, key);
    if (!v) return fallback;
    if (v->type != AJ_NUMBER) airlock_fail("bad_arguments", "`%s` must be a number", key);
    return v->number;
}

int airlock_arg_bool(const aj_value *args, const char *key, int fallback) {
    const aj_value *v = aj_get(args, key);
    if (!v) return fallback;
    if (v->type != AJ_BOOL) airlock_fail("bad_arguments", "`%s` must be true or false", key);
    return v->boolean;
}

/* ---- host calls ---- */

__attribute__((import_module("airlock"), import_name("call")))
int32_t airlock_import_call(const char *req, int32_t len);
__attribute__((import_module("airlock"), import_name("reply")))
int32_t airlock_import_reply(char *buf, int32_t len);

aj_value *airlock_call(const char *request, size_t len, char *err, size_t errlen) {
    int32_t n = airlock_import_call(request, (int32_t)len);
    if (n < 0) {
        const char *why = n == -2   ? "request too large (over 64 KiB)"
                          : n == -3 ? "host-call budget for this run exhausted"
                          : n == -4 ? "this run has no host calls"
                                    : "request outside memory";
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    if (n > MAX_REPLY) { snprintf(err, errlen, "reply too large"); return NULL; }
    char *buf = malloc((size_t)n + 1);
    if (!buf) { snprintf(err, errlen, "out of memory for the reply"); return NULL; }
    int32_t got = airlock_import_reply(buf, n);
    if (got < 0) { snprintf(err, errlen, "reply failed (%d)", (int)got); return NULL; }
    return aj_parse(buf, (size_t)got, err, errlen);
}
