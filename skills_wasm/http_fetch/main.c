/* http.fetch: GET one URL through the host's broker and return its text (HTML reduced to text). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "airlock.h"
#include "html.h"

#define MAX_CHARS 100000

static const char *header(const aj_value *headers, const char *name) {
    const aj_value *v = aj_get(headers, name);
    return v && v->type == AJ_STRING ? v->str : "";
}

int main(void) {
    const aj_value *args = airlock_args();
    const char *url = airlock_arg_str(args, "url", NULL);
    if (!url) airlock_fail("bad_arguments", "`url` is required");
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        airlock_fail("bad_arguments", "`url` must start with http:// or https://");
    double max_chars = airlock_arg_num(args, "max_chars", 20000);
    if (max_chars < 1 || max_chars > MAX_CHARS)
        airlock_fail("bad_arguments", "`max_chars` must be 1 to %d", MAX_CHARS);

    static const char *const headers[] = {"Accept", "text/html, text/plain;q=0.9, */*;q=0.5",
                                          "User-Agent", "airlock-http.fetch/0.1", NULL};
    airlock_http_response res;
    if (!airlock_http("GET", url, headers, NULL, NULL, 0, &res))
        airlock_fail(res.err_code, "%s", res.err_message);

    const char *ctype = header(res.headers, "content-type");
    char *title = NULL;
    const char *text = res.body;
    size_t text_len = res.body_len;
    if (strncasecmp(ctype, "text/html", 9) == 0 || strncasecmp(ctype, "application/xhtml", 17) == 0) {
        char *plain = html_to_text(res.body, res.body_len, &title);
        if (!plain) airlock_fail("out_of_memory", "out of memory");
        text = plain;
        text_len = strlen(plain);
    } else if (strncasecmp(ctype, "text/", 5) != 0 && strncasecmp(ctype, "application/json", 16) != 0 &&
               ctype[0]) {
        airlock_fail("not_text", "%s answered with %s, which is not text", url, ctype);
    }
    /* Cut at max_chars characters (not bytes), on a UTF-8 boundary. */
    size_t chars = 0, cut = 0;
    while (cut < text_len && chars < (size_t)max_chars) {
        cut++;
        while (cut < text_len && ((unsigned char)text[cut] & 0xC0) == 0x80) cut++;
        chars++;
    }

    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "url"); jw_string(&w, res.url);
    jw_key(&w, "status"); jw_int(&w, res.status);
    jw_key(&w, "content_type"); jw_string(&w, ctype);
    if (title) { jw_key(&w, "title"); jw_string(&w, title); }
    jw_key(&w, "text"); jw_string_n(&w, text, cut);
    jw_key(&w, "truncated"); jw_bool(&w, cut < text_len);
    jw_end_object(&w);
    airlock_ok(&w);
}
