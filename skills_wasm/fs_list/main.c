/* fs.list: the entries of one workspace directory, sorted by name. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "airlock.h"

#define MAX_ENTRIES 1000

typedef struct {
    char *name;
    const char *type;
    long long size;
} entry;

static int by_name(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

int main(void) {
    const aj_value *args = airlock_args();
    const char *rel = airlock_arg_str(args, "path", ".");
    double max = airlock_arg_num(args, "max_entries", 200);
    if (max < 1 || max > MAX_ENTRIES) airlock_fail("bad_arguments", "`max_entries` must be 1 to %d", MAX_ENTRIES);
    char *path = airlock_path("/workspace", rel);

    DIR *d = opendir(path);
    if (!d) airlock_fail_errno(rel);
    size_t n = 0, cap = 64;
    entry *items = malloc(cap * sizeof *items);
    int truncated = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n == MAX_ENTRIES) { truncated = 1; break; } /* bound memory; sorted below */
        if (n == cap) items = realloc(items, (cap *= 2) * sizeof *items);
        if (!items) airlock_fail("out_of_memory", "out of memory");
        struct stat st;
        items[n].name = strdup(de->d_name);
        items[n].size = -1;
        items[n].type = "other";
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISDIR(st.st_mode)) items[n].type = "dir";
            else if (S_ISREG(st.st_mode)) { items[n].type = "file"; items[n].size = st.st_size; }
        }
        n++;
    }
    closedir(d);
    qsort(items, n, sizeof *items, by_name);
    if (n > (size_t)max) { n = (size_t)max; truncated = 1; }

    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "path"); jw_string(&w, rel);
    jw_key(&w, "entries");
    jw_array(&w);
    for (size_t i = 0; i < n; i++) {
        jw_object(&w);
        jw_key(&w, "name"); jw_string(&w, items[i].name);
        jw_key(&w, "type"); jw_string(&w, items[i].type);
        if (items[i].size >= 0) { jw_key(&w, "size"); jw_int(&w, items[i].size); }
        jw_end_object(&w);
    }
    jw_end_array(&w);
    jw_key(&w, "truncated"); jw_bool(&w, truncated);
    jw_end_object(&w);
    airlock_ok(&w);
}
