/* Airlock skill SDK for C (WASI preview1). See docs/skill-abi.md.
 *
 * A skill reads its arguments with airlock_args(), builds its result with the jw_* writer and
 * ends with airlock_ok(&w), or ends with airlock_fail(code, fmt, ...). Both exit the process.
 * HTTP goes through airlock_http(), which asks the host's broker (the module has no sockets).
 */
#ifndef AIRLOCK_H
#define AIRLOCK_H

#include <stddef.h>
#include <stdint.h>

/* ---- JSON values (parsed input, host-call replies) ---- */

typedef enum { AJ_NULL, AJ_BOOL, AJ_NUMBER, AJ_STRING, AJ_ARRAY, AJ_OBJECT } aj_type;

typedef struct aj_value {
    aj_type type;
    int boolean;
    double number;
    char *str;             /* AJ_STRING: NUL-terminated UTF-8 (may contain \0: use len) */
    size_t len;            /* AJ_STRING: byte length; AJ_ARRAY/AJ_OBJECT: item count */
    struct aj_value *items; /* AJ_ARRAY/AJ_OBJECT: the items */
    char **keys;           /* AJ_OBJECT: the key of each item */
} aj_value;

/* Parse len bytes of JSON. NULL on error, with a message in err. Depth is capped at 64. */
aj_value *aj_parse(const char *text, size_t len, char *err, size_t errlen);
/* The member `key` of an object, or NULL. */
const aj_value *aj_get(const aj_value *obj, const char *key);

/* ---- arguments ---- */

/* The arguments object read from stdin (fails with bad_arguments if it is not a JSON object). */
const aj_value *airlock_args(void);
/* A string argument; `fallback` if absent; fails with bad_arguments if present but not a string. */
const char *airlock_arg_str(const aj_value *args, const char *key, const char *fallback);
/* A number argument; `fallback` if absent; fails if present but not a number. */
double airlock_arg_num(const aj_value *args, const char *key, double fallback);
/* A boolean argument; `fallback` if absent; fails if present but not a boolean. */
int airlock_arg_bool(const aj_value *args, const char *key, int fallback);

/* ---- JSON writer ---- */

typedef struct {
    char *data;
    size_t len, cap;
    int depth;
    unsigned char fresh[64]; /* per depth: nothing written yet at this level */
    int after_key;
} jw;

void jw_init(jw *w);
void jw_object(jw *w);
void jw_end_object(jw *w);
void jw_array(jw *w);
void jw_end_array(jw *w);
void jw_key(jw *w, const char *key);
void jw_string(jw *w, const char *s);
void jw_string_n(jw *w, const char *s, size_t n);
void jw_number(jw *w, double v);
void jw_int(jw *w, long long v);
void jw_bool(jw *w, int v);
void jw_null(jw *w);

/* Write the finished document in w as the result and exit 0. */
_Noreturn void airlock_ok(jw *w);
/* Write {"error":{"code":code,"message":...}} and exit 1. code is snake_case. */
_Noreturn void airlock_fail(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- files (in granted directories only: they are the module's whole file system) ---- */

/* Join a granted directory (e.g. "/workspace") and a path argument relative to it. Fails with
 * bad_arguments if rel is absolute, contains "..", or is too long. "" and "." mean the root. */
char *airlock_path(const char *root, const char *rel);
/* Fail with a code derived from errno (not_found, exists, permission_denied, not_a_directory,
 * is_a_directory, not_empty, io_error) and a message naming `what`. */
_Noreturn void airlock_fail_errno(const char *what);

/* ---- host calls ---- */

/* Send one request document (UTF-8 JSON) to the host and parse its reply document.
 * Returns the parsed reply ({"v":1,"ok":...}); on a transport failure returns NULL and puts
 * the reason in err (budget exhausted, no handler...). */
aj_value *airlock_call(const char *request, size_t len, char *err, size_t errlen);

/* One brokered HTTP exchange (see docs/skill-abi.md). headers and secret_headers are
 * NULL-terminated name, value, name, value... lists (or NULL); body may be NULL.
 * On success returns 1 and fills status, body (NUL-terminated text), url.
 * On refusal or failure returns 0 and fills err_code (e.g. "not_granted") and err_message. */
typedef struct {
    int status;
    const char *body;
    size_t body_len;
    const char *url;
    const aj_value *headers; /* object of lower-case name -> value */
    char err_code[40];
    char err_message[512];
} airlock_http_response;

int airlock_http(const char *method, const char *url, const char *const *headers,
                 const char *const *secret_headers, const char *body, long max_response_bytes,
                 airlock_http_response *out);

#endif
