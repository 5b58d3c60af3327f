/* fs.write: create, overwrite or append to one workspace file. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock.h"

static void make_parents(char *path) {
    /* path starts with "/workspace/": create each folder after the root. */
    for (char *p = path + strlen("/workspace/"); *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(path, 0755) != 0 && errno != EEXIST) airlock_fail_errno(path + strlen("/workspace/"));
        *p = '/';
    }
}

int main(void) {
    const aj_value *args = airlock_args();
    const char *rel = airlock_arg_str(args, "path", NULL);
    const aj_value *content = aj_get(args, "content");
    if (!rel || !content || content->type != AJ_STRING)
        airlock_fail("bad_arguments", "`path` and `content` (a string) are required");
    const char *mode = airlock_arg_str(args, "mode", "create");
    int flags = O_WRONLY | O_CREAT;
    if (!strcmp(mode, "create")) flags |= O_EXCL;
    else if (!strcmp(mode, "overwrite")) flags |= O_TRUNC;
    else if (!strcmp(mode, "append")) flags |= O_APPEND;
    else airlock_fail("bad_arguments", "`mode` must be create, overwrite or append");
    char *path = airlock_path("/workspace", rel);
    if (!strcmp(path, "/workspace")) airlock_fail("bad_arguments", "`path` must name a file");
    if (airlock_arg_bool(args, "make_dirs", 0)) make_parents(path);

    int fd = open(path, flags | O_NOFOLLOW, 0644);
    if (fd < 0) {
        if (errno == EEXIST) airlock_fail("exists", "%s exists; use mode \"overwrite\" or \"append\"", rel);
        airlock_fail_errno(rel);
    }
    size_t done = 0;
    while (done < content->len) {
        ssize_t n = write(fd, content->str + done, content->len - done);
        if (n < 0) airlock_fail_errno(rel);
        done += (size_t)n;
    }
    if (close(fd) != 0) airlock_fail_errno(rel);

    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "path"); jw_string(&w, rel);
    jw_key(&w, "bytes_written"); jw_int(&w, (long long)done);
    jw_key(&w, "mode"); jw_string(&w, mode);
    jw_end_object(&w);
    airlock_ok(&w);
}
