/* web.search: query the deployer's search endpoint through the broker, with the secret
 * SEARCH_API_KEY injected by the host (this module never sees it).
 *
 * Search API (docs/skill-authors.md, "web.search"):
 *   GET $SEARCH_ENDPOINT?q=<query>&count=<n>
 *   Authorization: Bearer <SEARCH_API_KEY>
 *   200 {"results": [{"title": "...", "url": "...", "snippet": "..."}, ...]}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock.h"

#define MAX_RESULTS 10

static char *url_encode(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *o = out;
    if (!out) airlock_fail("out_of_memory", "out of memory");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%'; *o++ = hex[c >> 4]; *o++ = hex[c & 15];
        }
    }
    *o = 0;
    return out;
}

static const char *str_field(const aj_value *obj, const char *key) {
    const aj_value *v = aj_get(obj, key);
    return v && v->type == AJ_STRING ? v->str : NULL;
}

int main(void) {
    const aj_value *args = airlock_args();
    const char *query = airlock_arg_str(args, "query", NULL);
    if (!query || !*query) airlock_fail("bad_arguments", "`query` is required");
    double count = airlock_arg_num(args, "count", 5);
    if (count < 1 || count > MAX_RESULTS) airlock_fail("bad_arguments", "`count` must be 1 to %d", MAX_RESULTS);
    const char *endpoint = getenv("SEARCH_ENDPOINT");
    if (!endpoint || !*endpoint)
        airlock_fail("not_configured", "SEARCH_ENDPOINT is not set; the deployer's policy sets it in env");

    char *q = url_encode(query);
    size_t n = strlen(endpoint) + strlen(q) + 32;
    char *url = malloc(n);
    if (!url) airlock_fail("out_of_memory", "out of memory");
    snprintf(url, n, "%s%cq=%s&count=%d", endpoint, strchr(endpoint, '?') ? '&' : '?', q, (int)count);

    static const char *const headers[] = {"Accept", "application/json", NULL};
    static const char *const secrets[] = {"Authorization", "Bearer ${secret:SEARCH_API_KEY}", NULL};
    airlock_http_response res;
    if (!airlock_http("GET", url, headers, secrets, NULL, 0, &res))
        airlock_fail(res.err_code, "%s", res.err_message);
    if (res.status == 401 || res.status == 403)
        airlock_fail("unauthorized", "the search endpoint refused the API key (HTTP %d)", res.status);
    if (res.status != 200)
        airlock_fail("upstream_error", "the search endpoint answered HTTP %d", res.status);
    char err[128];
    aj_value *doc = aj_parse(res.body, res.body_len, err, sizeof err);
    const aj_value *results = doc ? aj_get(doc, "results") : NULL;
    if (!results || results->type != AJ_ARRAY)
        airlock_fail("bad_upstream_reply", "the search endpoint's reply has no \"results\" array");

    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "query"); jw_string(&w, query);
    jw_key(&w, "results");
    jw_array(&w);
    for (size_t i = 0; i < results->len && i < (size_t)count; i++) {
        const aj_value *r = &results->items[i];
        const char *title = str_field(r, "title"), *link = str_field(r, "url");
        const char *snippet = str_field(r, "snippet");
        if (!title || !link) continue; /* skip malformed entries rather than fail the search */
        jw_object(&w);
        jw_key(&w, "title"); jw_string(&w, title);
        jw_key(&w, "url"); jw_string(&w, link);
        jw_key(&w, "snippet"); jw_string(&w, snippet ? snippet : "");
        jw_end_object(&w);
    }
    jw_end_array(&w);
    jw_end_object(&w);
    airlock_ok(&w);
}
