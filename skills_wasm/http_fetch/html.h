#ifndef HTML_H
#define HTML_H
#include <stddef.h>
/* Plain text of an HTML document (malloc'd); *title gets the <title> text or NULL. */
char *html_to_text(const char *html, size_t len, char **title);
#endif
