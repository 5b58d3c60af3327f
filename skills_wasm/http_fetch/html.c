/* HTML to plain text: drop tags, script/style/head noise, decode common entities, keep line
 * structure for block elements, collapse runs of whitespace. Not a browser: good enough for a
 * model to read a page. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html.h"

static int tag_is(const char *tag, size_t n, const char *name) {
    size_t m = strlen(name);
    return n >= m && strncasecmp(tag, name, m) == 0 && (n == m || !isalnum((unsigned char)tag[m]));
}

static const char *const BLOCKS[] = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4",
                                     "h5", "h6", "tr", "table", "section", "article", "header",
                                     "footer", "blockquote", "pre", "hr", "title", NULL};

static size_t put_utf8(char *o, unsigned long cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* Decode the entity at s (after '&'); writes to o, returns bytes consumed from s (0: none). */
static size_t entity(const char *s, const char *end, char *o, size_t *written) {
    static const struct { const char *name; const char *text; } named[] = {
        {"amp;", "&"}, {"lt;", "<"}, {"gt;", ">"}, {"quot;", "\""}, {"apos;", "'"},
        {"nbsp;", " "}, {"mdash;", "\xE2\x80\x94"}, {"ndash;", "\xE2\x80\x93"},
        {"hellip;", "\xE2\x80\xA6"}, {"copy;", "\xC2\xA9"}, {NULL, NULL}};
    for (int i = 0; named[i].name; i++) {
        size_t n = strlen(named[i].name);
        if ((size_t)(end - s) >= n && memcmp(s, named[i].name, n) == 0) {
            *written = strlen(named[i].text);
            memcpy(o, named[i].text, *written);
            return n;
        }
    }
    if (s < end && *s == '#') {
        char *stop;
        unsigned long cp = (s + 1 < end && (s[1] == 'x' || s[1] == 'X')) ? strtoul(s + 2, &stop, 16)
                                                                         : strtoul(s + 1, &stop, 10);
        if (stop < end && *stop == ';' && cp > 0 && cp < 0x110000 && (cp < 0xD800 || cp > 0xDFFF)) {
            *written = put_utf8(o, cp);
            return (size_t)(stop - s) + 1;
        }
    }
    return 0;
}

char *html_to_text(const char *html, size_t len, char **title) {
    char *out = malloc(len + 1);
    if (!out) return NULL;
    size_t n = 0;
    const char *p = html, *end = html + len;
    int space = 1, newlines = 1, in_title = 0;
    const char *title_start = NULL;
    size_t title_n = 0;
    *title = NULL;
    while (p < end) {
        if (*p == '<') {
            const char *close = memchr(p, '>', (size_t)(end - p));
            if (!close) break;
            const char *tag = p + 1;
            int closing = *tag == '/';
            if (closing) tag++;
            size_t tn = (size_t)(close - tag);
            if (tag_is(tag, tn, "!--")) { /* comment: skip to --> */
                const char *c = strstr(p, "-->");
                p = c ? c + 3 : end;
                continue;
            }
            if (!closing && (tag_is(tag, tn, "script") || tag_is(tag, tn, "style") ||
                             tag_is(tag, tn, "noscript") || tag_is(tag, tn, "template"))) {
                /* Skip everything up to the matching closing tag. */
                char want[16] = "</";
                size_t k = 2;
                while (k < 14 && isalpha((unsigned char)tag[k - 2])) { want[k] = tag[k - 2]; k++; }
                want[k] = 0;
                const char *q = close + 1;
                while (q < end && strncasecmp(q, want, k) != 0) q++;
                const char *gt = q < end ? memchr(q, '>', (size_t)(end - q)) : NULL;
                p = gt ? gt + 1 : end;
                continue;
            }
            if (tag_is(tag, tn, "title")) {
                in_title = !closing;
                if (in_title) { title_start = close + 1; }
                else if (title_start) { title_n = (size_t)(p - title_start); }
            }
            for (int i = 0; BLOCKS[i]; i++) {
                if (tag_is(tag, tn, BLOCKS[i])) {
                    while (n > 0 && out[n - 1] == ' ') n--;
                    if (!newlines && n > 0) { out[n++] = '\n'; newlines = 1; }
                    space = 1;
                    break;
                }
            }
            p = close + 1;
            continue;
        }
        if (in_title) { p++; continue; } /* the title is returned on its own */
        if (isspace((unsigned char)*p)) {
            if (!space) { out[n++] = ' '; space = 1; }
            p++;
            continue;
        }
        if (*p == '&') {
            size_t w = 0, used = entity(p + 1, end, out + n, &w);
            if (used) {
                n += w;
                p += used + 1;
                space = 0;
                newlines = 0;
                continue;
            }
        }
        out[n++] = *p++;
        space = 0;
        newlines = 0;
    }
    while (n > 0 && isspace((unsigned char)out[n - 1])) n--;
    out[n] = 0;
    if (title_start && title_n) {
        char *ignored;
        *title = html_to_text(title_start, title_n, &ignored); /* entities, whitespace */
    }
    return out;
}
