/* See wire.h. Nothing here trusts its input: every read is bounds-checked against the frame. */
#define _GNU_SOURCE
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- writing ------------------------------------------------------------------------------ */

void wbuf_put(wbuf *b, const void *data, size_t len) {
    if (b->failed)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void wbuf_str(wbuf *b, const char *s) { wbuf_put(b, s, strlen(s)); }

void wbuf_int(wbuf *b, long long value) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", value);
    wbuf_put(b, digits, (size_t)n);
}

void wbuf_json_string(wbuf *b, const char *s, size_t len) {
    wbuf_put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            wbuf_put(b, esc, 2);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            wbuf_put(b, esc, 6);
        } else {
            wbuf_put(b, &s[i], 1);
        }
    }
    wbuf_put(b, "\"", 1);
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void wbuf_base64(wbuf *b, const uint8_t *data, size_t len) {
    wbuf_put(b, "\"", 1);
    char quad[4];
    for (size_t i = 0; i < len; i += 3) {
        uint32_t n = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            n |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            n |= data[i + 2];
        quad[0] = B64URL[(n >> 18) & 63];
        quad[1] = B64URL[(n >> 12) & 63];
        quad[2] = i + 1 < len ? B64URL[(n >> 6) & 63] : '=';
        quad[3] = i + 2 < len ? B64URL[n & 63] : '=';
        wbuf_put(b, quad, 4);
    }
    wbuf_put(b, "\"", 1);
}

void wbuf_free(wbuf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* --- base64 ------------------------------------------------------------------------------- */

static int b64_digit(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int base64_decode(const char *text, size_t len, uint8_t **out, size_t *outlen) {
    if (len % 4)
        return -1;
    size_t pad = 0;
    if (len && text[len - 1] == '=')
        pad++;
    if (len > 1 && text[len - 2] == '=')
        pad++;
    uint8_t *buf = malloc(len / 4 * 3 + 1);
    if (!buf)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        uint32_t acc = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = b64_digit((unsigned char)text[i + k]);
            if (d < 0 && !(last && text[i + k] == '=' && k >= 4 - pad)) {
                free(buf);
                return -1;
            }
            acc = acc << 6 | (uint32_t)(d < 0 ? 0 : d);
        }
        buf[n++] = (uint8_t)(acc >> 16);
        if (!last || pad < 2)
            buf[n++] = (uint8_t)(acc >> 8);
        if (!last || pad < 1)
            buf[n++] = (uint8_t)acc;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* --- reading ------------------------------------------------------------------------------ */

typedef struct {
    const char *p, *end;
    char *err;
    size_t errlen;
} reader;

static int fail(reader *r, const char *what) {
    if (r->err && !r->err[0])
        snprintf(r->err, r->errlen, "%s", what);
    return -1;
}

static void skip_space(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int parse_value(reader *r, jvalue *out, int depth);

static int hex4(reader *r, uint32_t *out) {
    if (r->end - r->p < 4)
        return fail(r, "a \\u escape is cut short");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *r->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return fail(r, "a \\u escape has a non-hex digit");
    }
    *out = v;
    return 0;
}

static void put_utf8(wbuf *b, uint32_t cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    wbuf_put(b, u, n);
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    size_t n;
    uint32_t min, cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int parse_string(reader *r, jvalue *out) {
    wbuf s = {0};
    r->p++; /* the opening quote */
    while (1) {
        if (r->p >= r->end) {
            wbuf_free(&s);
            return fail(r, "a string is not terminated");
        }
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            r->p++;
            break;
        }
        if (c < 0x20) {
            wbuf_free(&s);
            return fail(r, "a string holds a raw control character");
        }
        if (c != '\\') {
            size_t n = utf8_sequence((const unsigned char *)r->p, (const unsigned char *)r->end);
            if (!n) {
                wbuf_free(&s);
                return fail(r, "a string is not valid UTF-8");
            }
            wbuf_put(&s, r->p, n);
            r->p += n;
            continue;
        }
        if (++r->p >= r->end) {
            wbuf_free(&s);
            return fail(r, "a string ends in a backslash");
        }
        char e = *r->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            wbuf_put(&s, &decoded[simple - "\"\\/bfnrt"], 1);
        } else if (e == 'u') {
            uint32_t cp, low;
            if (hex4(r, &cp)) {
                wbuf_free(&s);
                return -1;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u') {
                    wbuf_free(&s);
                    return fail(r, "a string holds a lone surrogate");
                }
                r->p += 2;
                if (hex4(r, &low) || low < 0xDC00 || low > 0xDFFF) {
                    wbuf_free(&s);
                    return fail(r, "a string holds a lone surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                wbuf_free(&s);
                return fail(r, "a string holds a lone surrogate");
            }
            put_utf8(&s, cp);
        } else {
            wbuf_free(&s);
            return fail(r, "a string holds an unknown escape");
        }
    }
    if (s.failed) {
        wbuf_free(&s);
        return fail(r, "out of memory");
    }
    out->type = J_STRING;
    out->str = s.data ? s.data : strdup("");
    out->len = s.len;
    return out->str ? 0 : fail(r, "out of memory");
}

static int parse_number(reader *r, jvalue *out) {
    const char *start = r->p;
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return fail(r, "a number has no digits");
    if (*r->p == '0')
        r->p++;
    else
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return fail(r, "a number has no digits after its point");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return fail(r, "a number has no exponent digits");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    out->type = J_NUMBER;
    out->str = strndup(start, (size_t)(r->p - start));
    return out->str ? 0 : fail(r, "out of memory");
}

static int parse_items(reader *r, jvalue *out, int depth, int object) {
    size_t cap = 0;
    char close = object ? '}' : ']';
    r->p++;
    out->type = object ? J_OBJECT : J_ARRAY;
    skip_space(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    while (1) {
        if (out->len == cap) {
            cap = cap ? cap * 2 : 4;
            jvalue *items = realloc(out->items, cap * sizeof *items);
            if (!items)
                return fail(r, "out of memory");
            out->items = items;
            if (object) {
                jvalue *keys = realloc(out->keys, cap * sizeof *keys);
                if (!keys)
                    return fail(r, "out of memory");
                out->keys = keys;
            }
        }
        jvalue *item = &out->items[out->len];
        memset(item, 0, sizeof *item);
        if (object) {
            jvalue *key = &out->keys[out->len];
            memset(key, 0, sizeof *key);
            skip_space(r);
            if (r->p >= r->end || *r->p != '"')
                return fail(r, "an object key is not a string");
            out->len++; /* counted before parsing, so json_free releases partial items */
            if (parse_string(r, key))
                return -1;
            skip_space(r);
            if (r->p >= r->end || *r->p++ != ':')
                return fail(r, "an object key has no colon");
        } else {
            out->len++;
        }
        if (parse_value(r, item, depth + 1))
            return -1;
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        return fail(r, object ? "an object is not closed" : "an array is not closed");
    }
}

static int literal(reader *r, const char *word, jtype type, jvalue *out) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
        return fail(r, "unexpected characters");
    r->p += n;
    out->type = type;
    return 0;
}

static int parse_value(reader *r, jvalue *out, int depth) {
    if (depth > WIRE_MAX_DEPTH)
        return fail(r, "nested too deeply");
    skip_space(r);
    if (r->p >= r->end)
        return fail(r, "unexpected end");
    switch (*r->p) {
    case '"':
        return parse_string(r, out);
    case '{':
        return parse_items(r, out, depth, 1);
    case '[':
        return parse_items(r, out, depth, 0);
    case 't':
        return literal(r, "true", J_TRUE, out);
    case 'f':
        return literal(r, "false", J_FALSE, out);
    case 'n':
        return literal(r, "null", J_NULL, out);
    default:
        return parse_number(r, out);
    }
}

int json_parse(const char *text, size_t len, jvalue *out, char *err, size_t errlen) {
    reader r = {text, text + len, err, errlen};
    if (err && errlen)
        err[0] = '\0';
    memset(out, 0, sizeof *out);
    if (parse_value(&r, out, 0) == 0) {
        skip_space(&r);
        if (r.p == r.end)
            return 0;
        fail(&r, "trailing characters after the value");
    }
    json_free(out);
    return -1;
}

void json_free(jvalue *v) {
    if (v->type == J_ARRAY || v->type == J_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            json_free(&v->items[i]);
            if (v->keys)
                json_free(&v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const jvalue *json_get(const jvalue *object, const char *key) {
    if (object->type != J_OBJECT)
        return NULL;
    for (size_t i = 0; i < object->len; i++)
        if (strcmp(object->keys[i].str, key) == 0 && object->keys[i].len == strlen(key))
            return &object->items[i];
    return NULL;
}

/* --- frames ------------------------------------------------------------------------------- */

static int read_exact(int fd, char *buf, size_t len) {
    while (len) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EPIPE;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int frame_read(int fd, size_t max_len, char **body, size_t *len) {
    unsigned char header[4];
    if (read_exact(fd, (char *)header, 4))
        return -1;
    size_t n = (size_t)header[0] << 24 | (size_t)header[1] << 16 | (size_t)header[2] << 8 | header[3];
    if (n > max_len) {
        errno = EMSGSIZE;
        return -1;
    }
    char *buf = malloc(n + 1);
    if (!buf)
        return -1;
    if (read_exact(fd, buf, n)) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *body = buf;
    *len = n;
    return 0;
}

int frame_write(int fd, const char *body, size_t len) {
    if (len > 0xFFFFFFFFu) {
        errno = EMSGSIZE;
        return -1;
    }
    unsigned char header[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                               (unsigned char)(len >> 8), (unsigned char)len};
    struct {
        const char *p;
        size_t n;
    } parts[2] = {{(const char *)header, 4}, {body, len}};
    for (int i = 0; i < 2; i++) {
        const char *p = parts[i].p;
        size_t n = parts[i].n;
        while (n) {
            ssize_t w = write(fd, p, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            p += w;
            n -= (size_t)w;
        }
    }
    return 0;
}
