/* Shell words and terminal-safe text (see quote.h). */
#include "core/quote.h"

#include "core/error.h" // uses: tb_fail

#include <stdlib.h>
#include <string.h>

int tb_shell_quote(char *out, size_t size, const char *s)
{
    size_t start = strlen(out), n = start, need = 2;
    for (const char *p = s; *p; p++)
        need += *p == '\'' ? 4 : 1;
    if (start >= size || need >= size - start)
        return tb_fail("a shell command line would be longer than %zu bytes with '%.40s%s'; shorten the value "
                       "(a path, a --set or a preset name)",
                       size > 0 ? size - 1 : 0, s, strlen(s) > 40 ? "..." : "");
    out[n++] = '\'';
    for (; *s; s++) {
        if (*s == '\'') { /* close the quote, an escaped quote, reopen */
            memcpy(out + n, "'\\''", 4);
            n += 4;
        } else {
            out[n++] = *s;
        }
    }
    out[n++] = '\'';
    out[n] = '\0';
    return 0;
}

/* The length of the valid UTF-8 sequence at s that is not a C1 control, or 0. */
static size_t printable_utf8(const unsigned char *s)
{
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (s[0] < 0xC2 || s[0] > 0xF4)
        return 0; /* a continuation byte, an overlong lead (C0, C1) or beyond U+10FFFF */
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    unsigned cp = len == 2   ? (s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu)
                  : len == 3 ? (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu)
                             : (s[0] & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
    if ((len == 2 && cp < 0xA0) || (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0; /* C1 controls (U+009B is CSI), overlong forms, surrogates */
    return len;
}

int tb_text_put(FILE *f, const char *text)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    while (*s) {
        size_t len = *s >= 0x20 && *s < 0x7F ? 1 : *s >= 0x80 ? printable_utf8(s) : 0;
        if (len) {
            if (fwrite(s, 1, len, f) != len)
                return -1;
            s += len;
        } else if (fprintf(f, "\\x%02x", *s++) < 0) {
            return -1;
        }
    }
    return 0;
}

int tb_json_put(FILE *f, const char *json_text)
{
    const unsigned char *s = (const unsigned char *)(json_text ? json_text : "");
    while (*s) {
        size_t len = (*s >= 0x20 && *s < 0x7F) || *s == '\n' || *s == '\t' || *s == '\r' ? 1
                     : *s >= 0x80                                                        ? printable_utf8(s)
                                                                                         : 0;
        int c1 = s[0] == 0xC2 && s[1] >= 0x80 && s[1] <= 0x9F;
        if (len) {
            if (fwrite(s, 1, len, f) != len)
                return -1;
            s += len;
        } else if (*s == 0x7F || c1) {
            if (fprintf(f, "\\u%04x", c1 ? s[1] : 0x7F) < 0)
                return -1;
            s += c1 ? 2 : 1;
        } else {
            if (fputs("\\ufffd", f) < 0)
                return -1;
            s++;
        }
    }
    return 0;
}

char *tb_text_escape(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = tb_text_put(f, s);
    if (fclose(f) != 0 || rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

int tb_utf8_valid(const char *s)
{
    static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0)
            return 0;
        unsigned cp = n ? *p & (0x3Fu >> n) : *p;
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
                return 0;
            cp = cp << 6 | (p[i] & 0x3Fu);
        }
        if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}
