/* notes.remember: append one note to /notes/notes.jsonl.
 *
 * /notes is the requester's own notes folder: the host maps a per-requester directory into it
 * (the model never says whose notes these are, so it cannot read or write someone else's). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "airlock.h"

#define NOTES "/notes/notes.jsonl"
#define MAX_FILE (1024 * 1024) /* a person's notes; beyond this, forget something first */

int main(void) {
    const aj_value *args = airlock_args();
    const char *text = airlock_arg_str(args, "text", NULL);
    if (!text || !*text) airlock_fail("bad_arguments", "`text` is required");

    /* The id is one more than the number of notes already stored. */
    long long count = 0, size = 0;
    FILE *f = fopen(NOTES, "rb");
    if (f) {
        int c;
        while ((c = fgetc(f)) != EOF) { size++; if (c == '\n') count++; }
        fclose(f);
    } else if (errno != ENOENT) {
        airlock_fail_errno("notes");
    }

    jw line;
    jw_init(&line);
    jw_object(&line);
    jw_key(&line, "id"); jw_int(&line, count + 1);
    jw_key(&line, "at"); jw_int(&line, (long long)time(NULL));
    jw_key(&line, "text"); jw_string(&line, text);
    jw_end_object(&line);
    if (size + (long long)line.len + 1 > MAX_FILE)
        airlock_fail("full", "the notes file would exceed %d bytes", MAX_FILE);

    int fd = open(NOTES, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
    if (fd < 0) airlock_fail_errno("notes");
    char *record = malloc(line.len + 1);
    if (!record) airlock_fail("out_of_memory", "out of memory");
    memcpy(record, line.data, line.len);
    record[line.len] = '\n';
    for (size_t done = 0; done < line.len + 1;) {
        ssize_t n = write(fd, record + done, line.len + 1 - done);
        if (n < 0) airlock_fail_errno("notes");
        done += (size_t)n;
    }
    if (close(fd) != 0) airlock_fail_errno("notes");

    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "id"); jw_int(&w, count + 1);
    jw_key(&w, "count"); jw_int(&w, count + 1);
    jw_end_object(&w);
    airlock_ok(&w);
}
