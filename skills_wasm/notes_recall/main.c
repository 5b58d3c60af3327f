/* notes.recall: the requester's notes (from /notes/notes.jsonl), newest first, optionally only
 * those containing a text (case-insensitive for ASCII). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock.h"

#define NOTES "/notes/notes.jsonl"
#define MAX_FILE (1024 * 1024)

static int contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return n == 0;
}

int main(void) {
    const aj_value *args = airlock_args();
    const char *query = airlock_arg_str(args, "query", "");
    double limit = airlock_arg_num(args, "limit", 20);
    if (limit < 1 || limit > 100) airlock_fail("bad_arguments", "`limit` must be 1 to 100");

    static char buf[MAX_FILE + 1];
    size_t len = 0;
    FILE *f = fopen(NOTES, "rb");
    if (f) {
        len = fread(buf, 1, MAX_FILE, f);
        fclose(f);
    } else if (errno != ENOENT) {
        airlock_fail_errno("notes");
    }
    buf[len] = 0;

    /* Lines, newest (last) first. */
    size_t total = 0, cap = 64;
    aj_value **notes = malloc(cap * sizeof *notes);
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char err[64];
        aj_value *v = aj_parse(line, strlen(line), err, sizeof err);
        if (v && v->type == AJ_OBJECT && aj_get(v, "text") && aj_get(v, "text")->type == AJ_STRING) {
            if (total == cap) notes = realloc(notes, (cap *= 2) * sizeof *notes);
            if (!notes) airlock_fail("out_of_memory", "out of memory");
            notes[total++] = v;
        } /* a damaged line is skipped: the rest of the notes stay readable */
        line = nl ? nl + 1 : NULL;
    }

    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "notes");
    jw_array(&w);
    size_t shown = 0;
    for (size_t i = total; i-- > 0 && shown < (size_t)limit;) {
        const aj_value *text = aj_get(notes[i], "text"), *id = aj_get(notes[i], "id");
        const aj_value *at = aj_get(notes[i], "at");
        if (!contains(text->str, query)) continue;
        jw_object(&w);
        jw_key(&w, "id"); jw_int(&w, id && id->type == AJ_NUMBER ? (long long)id->number : 0);
        jw_key(&w, "at"); jw_int(&w, at && at->type == AJ_NUMBER ? (long long)at->number : 0);
        jw_key(&w, "text"); jw_string_n(&w, text->str, text->len);
        jw_end_object(&w);
        shown++;
    }
    jw_end_array(&w);
    jw_key(&w, "total"); jw_int(&w, (long long)total);
    jw_end_object(&w);
    airlock_ok(&w);
}
