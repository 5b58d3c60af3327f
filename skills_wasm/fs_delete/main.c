/* fs.delete: delete one file or one empty folder of the workspace (never recursive). */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock.h"

int main(void) {
    const aj_value *args = airlock_args();
    const char *rel = airlock_arg_str(args, "path", NULL);
    if (!rel) airlock_fail("bad_arguments", "`path` is required");
    char *path = airlock_path("/workspace", rel);
    if (!strcmp(path, "/workspace")) airlock_fail("bad_arguments", "the workspace root cannot be deleted");
    struct stat st;
    if (lstat(path, &st) != 0) airlock_fail_errno(rel);
    const char *kind = S_ISDIR(st.st_mode) ? "folder" : "file";
    if (S_ISDIR(st.st_mode) ? rmdir(path) != 0 : unlink(path) != 0) airlock_fail_errno(rel);

    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "path"); jw_string(&w, rel);
    jw_key(&w, "deleted"); jw_string(&w, kind);
    jw_end_object(&w);
    airlock_ok(&w);
}
