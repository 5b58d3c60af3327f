/* {{name}}: count the words of `text`. Build: airlock skill build <this folder>. */
#include <ctype.h>

#include "airlock.h"

int main(void) {
    const aj_value *args = airlock_args();
    const char *text = airlock_arg_str(args, "text", NULL);
    if (!text) airlock_fail("bad_arguments", "`text` is required");
    long long words = 0;
    int in_word = 0;
    for (const char *p = text; *p; p++) {
        int space = isspace((unsigned char)*p);
        if (!space && !in_word) words++;
        in_word = !space;
    }
    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "words");
    jw_int(&w, words);
    jw_end_object(&w);
    airlock_ok(&w);
}
