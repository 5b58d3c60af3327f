/* fs.move: rename within the workspace; refuses to replace a target unless asked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock.h"

/* rename() across folders can fail with EXDEV (another file system, or a kernel sandbox that
 * refuses to reparent); a regular file is then copied and the original removed, like mv(1). */
static void copy_then_unlink(const char *from, const char *to, int overwrite, const char *what) {
    int in = open(from, O_RDONLY | O_NOFOLLOW);
    if (in < 0) airlock_fail_errno(what);
    int out = open(to, O_WRONLY | O_CREAT | O_NOFOLLOW | (overwrite ? O_TRUNC : O_EXCL), 0644);
    if (out < 0) airlock_fail_errno(what);
    static char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0) airlock_fail_errno(what);
        if (n == 0) break;
        for (ssize_t done = 0; done < n;) {
            ssize_t m = write(out, buf + done, (size_t)(n - done));
            if (m < 0) airlock_fail_errno(what);
            done += m;
        }
    }
    if (close(out) != 0 || close(in) != 0 || unlink(from) != 0) airlock_fail_errno(what);
}

int main(void) {
    const aj_value *args = airlock_args();
    const char *from_rel = airlock_arg_str(args, "from", NULL);
    const char *to_rel = airlock_arg_str(args, "to", NULL);
    if (!from_rel || !to_rel) airlock_fail("bad_arguments", "`from` and `to` are required");
    int overwrite = airlock_arg_bool(args, "overwrite", 0);
    char *from = airlock_path("/workspace", from_rel);
    char *to = airlock_path("/workspace", to_rel);
    if (!strcmp(from, "/workspace") || !strcmp(to, "/workspace"))
        airlock_fail("bad_arguments", "the workspace root cannot be moved or replaced");
    struct stat st;
    if (lstat(from, &st) != 0) airlock_fail_errno(from_rel);
    int regular = S_ISREG(st.st_mode);
    int replaced = lstat(to, &st) == 0;
    /* The check and the rename are not atomic, but only this run writes in its workspace view. */
    if (replaced && !overwrite)
        airlock_fail("exists", "%s exists; pass overwrite = true to replace it", to_rel);
    if (rename(from, to) != 0) {
        /* wasmtime reports the host's EXDEV as EIO. */
        if ((errno != EXDEV && errno != EIO) || !regular) airlock_fail_errno(from_rel);
        copy_then_unlink(from, to, overwrite, from_rel);
    }

    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "from"); jw_string(&w, from_rel);
    jw_key(&w, "to"); jw_string(&w, to_rel);
    jw_key(&w, "replaced"); jw_bool(&w, replaced);
    jw_end_object(&w);
    airlock_ok(&w);
}
