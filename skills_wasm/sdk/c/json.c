/* A small strict JSON parser (RFC 8259) for skill arguments and host-call replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock.h"

#define MAX_DEPTH 64

typedef struct {
    const char *p, *end;
    char *err;
    size_t errlen;
    int depth;
} parser;

static int fail(parser *ps, const char *msg) {
    if (ps->err && ps->errlen) snprintf(ps->err, ps->errlen, "%s", msg);
    return 0;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static void *grow(void *ptr, size_t n, size_t size) {
    void *q = realloc(ptr, n * size);
    if (!q) {
        fputs("{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}\n", stdout);
        exit(1);
    }
    return q;
}

static int hex4(parser *ps, unsigned *out) {
    if (ps->end - ps->p < 4) return fail(ps, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return fail(ps, "bad \\u escape");
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

static int parse_string(parser *ps, char **out, size_t *outlen) {
    ps->p++; /* opening quote */
    /* The decoded string is never longer than the encoded one. */
    const char *q = ps->p;
    while (q < ps->end && *q != '"') q += (*q == '\\') ? 2 : 1;
    if (q >= ps->end) return fail(ps, "unterminated string");
    char *buf = grow(NULL, (size_t)(q - ps->p) + 1, 1);
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20) { free(buf); return fail(ps, "control character in string"); }
        if (c != '\\') { buf[n++] = (char)c; continue; }
        if (ps->p >= ps->end) { free(buf); return fail(ps, "truncated escape"); }
        char e = *ps->p++;
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (!hex4(ps, &cp)) { free(buf); return 0; }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    free(buf); return fail(ps, "lone surrogate in string");
                }
                ps->p += 2;
                if (!hex4(ps, &lo)) { free(buf); return 0; }
                if (lo < 0xDC00 || lo > 0xDFFF) { free(buf); return fail(ps, "bad surrogate pair"); }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf); return fail(ps, "lone surrogate in string");
            }
            n += put_utf8(buf + n, cp);
            break;
        }
        default: free(buf); return fail(ps, "bad escape in string");
        }
    }
    ps->p++; /* closing quote */
    buf[n] = 0;
    *out = buf;
    *outlen = n;
    return 1;
}

static int parse_value(parser *ps, aj_value *v);

static int parse_container(parser *ps, aj_value *v, int object) {
    if (++ps->depth > MAX_DEPTH) return fail(ps, "nested too deeply");
    ps->p++;
    v->type = object ? AJ_OBJECT : AJ_ARRAY;
    size_t cap = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) { ps->p++; ps->depth--; return 1; }
    for (;;) {
        if (v->len == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = grow(v->items, cap, sizeof *v->items);
            if (object) v->keys = grow(v->keys, cap, sizeof *v->keys);
        }
        memset(&v->items[v->len], 0, sizeof *v->items);
        skip_ws(ps);
        if (object) {
            size_t klen;
            if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key");
            if (!parse_string(ps, &v->keys[v->len], &klen)) return 0;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':'");
            ps->p++;
        }
        if (!parse_value(ps, &v->items[v->len])) return 0;
        v->len++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
        if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) { ps->p++; ps->depth--; return 1; }
        return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int literal(parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return fail(ps, "unexpected token");
    ps->p += n;
    return 1;
}

static int parse_number(parser *ps, aj_value *v) {
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-') ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "bad number");
    if (*ps->p == '0') ps->p++;
    else while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "bad number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "bad number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    char tmp[64];
    size_t n = (size_t)(ps->p - s);
    if (n >= sizeof tmp) return fail(ps, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = 0;
    v->type = AJ_NUMBER;
    v->number = strtod(tmp, NULL);
    return 1;
}

static int parse_value(parser *ps, aj_value *v) {
    skip_ws(ps);
    if (ps->p >= ps->end) return fail(ps, "unexpected end of input");
    switch (*ps->p) {
    case '{': return parse_container(ps, v, 1);
    case '[': return parse_container(ps, v, 0);
    case '"': v->type = AJ_STRING; return parse_string(ps, &v->str, &v->len);
    case 't': v->type = AJ_BOOL; v->boolean = 1; return literal(ps, "true");
    case 'f': v->type = AJ_BOOL; v->boolean = 0; return literal(ps, "false");
    case 'n': v->type = AJ_NULL; return literal(ps, "null");
    default: return parse_number(ps, v);
    }
}

aj_value *aj_parse(const char *text, size_t len, char *err, size_t errlen) {
    parser ps = {text, text + len, err, errlen, 0};
    aj_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    if (!parse_value(&ps, v)) return NULL; /* the process is short-lived: no cleanup needed */
    skip_ws(&ps);
    if (ps.p != ps.end) { fail(&ps, "trailing characters after the JSON value"); return NULL; }
    return v;
}

const aj_value *aj_get(const aj_value *obj, const char *key) {
    if (!obj || obj->type != AJ_OBJECT) return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}
