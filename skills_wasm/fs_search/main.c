/* fs.search: literal substring search with line numbers over the workspace's text files. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "airlock.h"

#define MAX_FILE (1024 * 1024) /* bigger files are skipped: logs and data, not notes */
#define MAX_DEPTH 16           /* deeper trees are skipped: bounds the walk */
#define MAX_LINE_OUT 200       /* characters of a matching line returned */

static const char *query;
static size_t qlen;
static int ignore_case;
static size_t max_results, found, files_searched;
static int truncated;
static jw w;

static int match_at(const char *s, size_t n) {
    if (n < qlen) return 0;
    for (size_t i = 0; i < qlen; i++) {
        char a = s[i], b = query[i];
        if (ignore_case) { a = (char)tolower((unsigned char)a); b = (char)tolower((unsigned char)b); }
        if (a != b) return 0;
    }
    return 1;
}

static int line_has(const char *s, size_t n) {
    for (size_t i = 0; i + qlen <= n; i++)
        if (match_at(s + i, n - i)) return 1;
    return 0;
}

static void search_file(const char *path, const char *shown) {
    FILE *f = fopen(path, "rb");
    if (!f) return; /* unreadable files are skipped, not fatal */
    static char buf[MAX_FILE];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (memchr(buf, 0, n)) return; /* binary */
    files_searched++;
    size_t start = 0, line = 1;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && buf[i] != '\n') continue;
        size_t len = i - start;
        if (line_has(buf + start, len)) {
            if (found == max_results) { truncated = 1; return; }
            size_t out = len;
            if (out > MAX_LINE_OUT) {
                out = MAX_LINE_OUT;
                while (out > 0 && ((unsigned char)buf[start + out] & 0xC0) == 0x80) out--;
            }
            if (out && buf[start + out - 1] == '\r') out--;
            jw_object(&w);
            jw_key(&w, "path"); jw_string(&w, shown);
            jw_key(&w, "line"); jw_int(&w, (long long)line);
            jw_key(&w, "text"); jw_string_n(&w, buf + start, out);
            jw_end_object(&w);
            found++;
        }
        start = i + 1;
        line++;
    }
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk(const char *path, const char *shown, int depth) {
    if (truncated || depth > MAX_DEPTH) return;
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (S_ISREG(st.st_mode)) {
        if (st.st_size <= MAX_FILE) search_file(path, shown);
        return;
    }
    if (!S_ISDIR(st.st_mode)) return;
    DIR *d = opendir(path);
    if (!d) return;
    size_t n = 0, cap = 32;
    char **names = malloc(cap * sizeof *names);
    struct dirent *de;
    while (names && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]))) continue;
        if (n == cap) names = realloc(names, (cap *= 2) * sizeof *names);
        if (names) names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (!names) airlock_fail("out_of_memory", "out of memory");
    qsort(names, n, sizeof *names, by_name); /* stable, predictable order of results */
    for (size_t i = 0; i < n && !truncated; i++) {
        char *child = malloc(strlen(path) + strlen(names[i]) + 2);
        char *child_shown = malloc(strlen(shown) + strlen(names[i]) + 2);
        sprintf(child, "%s/%s", path, names[i]);
        if (strcmp(shown, ".") == 0) strcpy(child_shown, names[i]);
        else sprintf(child_shown, "%s/%s", shown, names[i]);
        walk(child, child_shown, depth + 1);
        free(child);
        free(child_shown);
    }
}

int main(void) {
    const aj_value *args = airlock_args();
    query = airlock_arg_str(args, "query", NULL);
    if (!query || !*query) airlock_fail("bad_arguments", "`query` is required and not empty");
    qlen = strlen(query);
    if (strchr(query, '\n')) airlock_fail("bad_arguments", "`query` must be on one line");
    const char *rel = airlock_arg_str(args, "path", ".");
    ignore_case = airlock_arg_bool(args, "ignore_case", 0);
    double max = airlock_arg_num(args, "max_results", 100);
    if (max < 1 || max > 500) airlock_fail("bad_arguments", "`max_results` must be 1 to 500");
    max_results = (size_t)max;
    char *root = airlock_path("/workspace", rel);
    struct stat st;
    if (stat(root, &st) != 0) airlock_fail_errno(rel);

    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "matches");
    jw_array(&w);
    walk(root, rel[0] ? rel : ".", 0);
    jw_end_array(&w);
    jw_key(&w, "files_searched"); jw_int(&w, (long long)files_searched);
    jw_key(&w, "truncated"); jw_bool(&w, truncated);
    jw_end_object(&w);
    airlock_ok(&w);
}
