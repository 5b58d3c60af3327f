/* Path and errno helpers for skills that work in granted directories. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "airlock.h"

#define MAX_PATH 1024

char *airlock_path(const char *root, const char *rel) {
    if (rel[0] == '/') airlock_fail("bad_arguments", "path %s must be relative to %s", rel, root);
    size_t n = strlen(rel);
    if (n > MAX_PATH) airlock_fail("bad_arguments", "path is over %d bytes", MAX_PATH);
    /* Refuse ".." components: the sandbox would refuse them too, but with a vaguer error. */
    const char *p = rel;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            airlock_fail("bad_arguments", "path %s must not contain '..'", rel);
        p += len;
        while (*p == '/') p++;
    }
    while (rel[0] == '.' && rel[1] == '/') rel += 2;
    char *out = malloc(strlen(root) + n + 2);
    if (!out) airlock_fail("out_of_memory", "out of memory");
    if (rel[0] == 0 || (rel[0] == '.' && rel[1] == 0)) strcpy(out, root);
    else {
        strcpy(out, root);
        strcat(out, "/");
        strcat(out, rel);
    }
    /* No trailing slash: "dir/" and "dir" are the same entry. */
    size_t m = strlen(out);
    while (m > strlen(root) && out[m - 1] == '/') out[--m] = 0;
    return out;
}

_Noreturn void airlock_fail_errno(const char *what) {
    int e = errno;
    const char *code;
    switch (e) {
    case ENOENT: code = "not_found"; break;
    case EEXIST: code = "exists"; break;
    case EACCES:
    case EPERM:
    case ENOTCAPABLE:
    case EROFS: code = "permission_denied"; break;
    case ENOTDIR: code = "not_a_directory"; break;
    case EISDIR: code = "is_a_directory"; break;
    case ENOTEMPTY: code = "not_empty"; break;
    default: code = "io_error"; break;
    }
    airlock_fail(code, "%s: %s", what, strerror(e));
}
