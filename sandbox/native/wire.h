/* The run child's side of the protocol: frames, a strict JSON reader and a JSON writer.
 *
 * Same wire format as sandbox/childwire.py (4-byte big-endian length, one JSON object whose
 * bytes fields are base64); the supervisor validates every frame this side writes with the
 * strict pydantic models of sandbox/protocol.py. The reader accepts the JSON grammar only
 * (RFC 8259), refuses nesting deeper than WIRE_MAX_DEPTH, and decodes strings to UTF-8.
 */
#ifndef AIRLOCK_WIRE_H
#define AIRLOCK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX_DEPTH 8

/* A growable byte buffer; on allocation failure it stays as it was and `failed` is set. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} wbuf;

void wbuf_put(wbuf *b, const void *data, size_t len);
void wbuf_str(wbuf *b, const char *s);
void wbuf_int(wbuf *b, long long value);
void wbuf_json_string(wbuf *b, const char *s, size_t len); /* quoted and escaped */
void wbuf_base64(wbuf *b, const uint8_t *data, size_t len); /* quoted, URL-safe, padded */
void wbuf_free(wbuf *b);

typedef enum { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } jtype;

typedef struct jvalue {
    jtype type;
    char *str;            /* J_STRING: decoded, NUL-terminated; J_NUMBER: the literal */
    size_t len;           /* J_STRING: bytes in str; J_ARRAY/J_OBJECT: number of items */
    struct jvalue *items; /* J_ARRAY: the values; J_OBJECT: the values, keys in `keys` */
    struct jvalue *keys;  /* J_OBJECT: J_STRING keys, parallel to items */
} jvalue;

/* Parse `len` bytes as one JSON value; 0 on success, else -1 with `err` set (a sentence). */
int json_parse(const char *text, size_t len, jvalue *out, char *err, size_t errlen);
void json_free(jvalue *v);
const jvalue *json_get(const jvalue *object, const char *key);

/* Decode standard or URL-safe base64 with padding; 0 on success (*out malloc'd). */
int base64_decode(const char *text, size_t len, uint8_t **out, size_t *outlen);

/* Frames. 0 on success; -1 on EOF, error or a frame longer than max_len (errno set). */
int frame_read(int fd, size_t max_len, char **body, size_t *len);
int frame_write(int fd, const char *body, size_t len);

#endif
