/* The brokered HTTP helper: builds an http.request document and reads the reply. */
#include <stdio.h>
#include <string.h>

#include "airlock.h"

static void header_object(jw *w, const char *key, const char *const *pairs) {
    jw_key(w, key);
    jw_object(w);
    for (; pairs && pairs[0] && pairs[1]; pairs += 2) {
        jw_key(w, pairs[0]);
        jw_string(w, pairs[1]);
    }
    jw_end_object(w);
}

int airlock_http(const char *method, const char *url, const char *const *headers,
                 const char *const *secret_headers, const char *body, long max_response_bytes,
                 airlock_http_response *out) {
    memset(out, 0, sizeof *out);
    jw w;
    jw_init(&w);
    jw_object(&w);
    jw_key(&w, "v"); jw_int(&w, 1);
    jw_key(&w, "op"); jw_string(&w, "http.request");
    jw_key(&w, "method"); jw_string(&w, method);
    jw_key(&w, "url"); jw_string(&w, url);
    if (headers) header_object(&w, "headers", headers);
    if (secret_headers) header_object(&w, "secret_headers", secret_headers);
    if (body) { jw_key(&w, "body"); jw_string(&w, body); }
    if (max_response_bytes > 0) { jw_key(&w, "max_response_bytes"); jw_int(&w, max_response_bytes); }
    jw_end_object(&w);

    char err[256];
    aj_value *reply = airlock_call(w.data, w.len, err, sizeof err);
    if (!reply) {
        snprintf(out->err_code, sizeof out->err_code, "host_call_failed");
        snprintf(out->err_message, sizeof out->err_message, "%s", err);
        return 0;
    }
    const aj_value *ok = aj_get(reply, "ok");
    if (!ok || ok->type != AJ_BOOL || !ok->boolean) {
        const aj_value *e = aj_get(reply, "error");
        const aj_value *code = aj_get(e, "code"), *msg = aj_get(e, "message");
        snprintf(out->err_code, sizeof out->err_code, "%s",
                 code && code->type == AJ_STRING ? code->str : "bad_reply");
        snprintf(out->err_message, sizeof out->err_message, "%s",
                 msg && msg->type == AJ_STRING ? msg->str : "the host sent an unreadable reply");
        return 0;
    }
    const aj_value *result = aj_get(reply, "result");
    const aj_value *status = aj_get(result, "status"), *b = aj_get(result, "body");
    const aj_value *u = aj_get(result, "url");
    out->status = status && status->type == AJ_NUMBER ? (int)status->number : 0;
    out->body = b && b->type == AJ_STRING ? b->str : "";
    out->body_len = b && b->type == AJ_STRING ? b->len : 0;
    out->url = u && u->type == AJ_STRING ? u->str : url;
    out->headers = aj_get(result, "headers");
    return 1;
}
