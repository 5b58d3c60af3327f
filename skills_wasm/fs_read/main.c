/* fs.read: read a text file of the workspace, up to max_bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "airlock.h"

#define MAX_READ (1024 * 1024)

int main(void) {
    const aj_value *args = airlock_args();
    const char *rel = airlock_arg_str(args, "path", NULL);
    if (!rel) airlock_fail("bad_arguments", "`path` is required");
    double want = airlock_arg_num(args, "max_bytes", 65536);
    if (want < 1 || want > MAX_READ) airlock_fail("bad_arguments", "`max_bytes` must be 1 to %d", MAX_READ);
    long cap = (long)want;

    char *path = airlock_path("/workspace", rel);
    struct stat st;
    if (stat(path, &st) != 0) airlock_fail_errno(rel);
    if (S_ISDIR(st.st_mode)) airlock_fail("is_a_directory", "%s is a directory; use fs.list", rel);
    if (!S_ISREG(st.st_mode)) airlock_fail("not_a_file", "%s is not a regular file", rel);
    FILE *f = fopen(path, "rb");
    if (!f) airlock_fail_errno(rel);
    char *buf = malloc((size_t)cap + 1);
    if (!buf) airlock_fail("out_of_memory", "out of memory");
    size_t n = fread(buf, 1, (size_t)cap, f);
    if (ferror(f)) airlock_fail_errno(rel);
    fclose(f);
    if (memchr(buf, 0, n)) airlock_fail("not_text", "%s looks binary (it contains NUL bytes)", rel);
    /* Do not cut a UTF-8 sequence in half when truncating. */
    int truncated = (long long)st.st_size > (long long)n;
    if (truncated)
        while (n > 0 && ((unsigned char)buf[n - 1] & 0xC0) == 0x80) n--;
    if (truncated && n > 0 && ((unsigned char)buf[n - 1] & 0xC0) == 0xC0) n--;

    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "path"); jw_string(&w, rel);
    jw_key(&w, "content"); jw_string_n(&w, buf, n);
    jw_key(&w, "size"); jw_int(&w, (long long)st.st_size);
    jw_key(&w, "truncated"); jw_bool(&w, truncated);
    jw_end_object(&w);
    airlock_ok(&w);
}
