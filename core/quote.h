/* Quoting for the two places text leaves trainbench's control: a shell (or a
 * generated script) and a terminal.
 *
 * Every value that reaches a shell word goes through tb_shell_quote; every
 * string read from a file that is printed for a person (results, export)
 * goes through tb_text_put or tb_text_escape, so that an escape sequence
 * stored in result.json cannot reach the terminal. */
#ifndef TB_QUOTE_H
#define TB_QUOTE_H

#include <stddef.h>
#include <stdio.h>

/* Appends `s` to the string in `out` as one single-quoted shell word ('it'\''s').
 * 0, or -1 after tb_fail when it does not fit in `size` bytes (out is left as
 * it was: never a cut word). */
int tb_shell_quote(char *out, size_t size, const char *s);

/* Writes `s` with every control character escaped: C0 controls, DEL, the C1
 * controls (U+0080..U+009F) and bytes that are not valid UTF-8 become \xNN,
 * so ESC, BEL, OSC and CSI sequences are shown, not obeyed.  Other UTF-8 text
 * is kept.  0, or -1 when writing fails. */
int tb_text_put(FILE *f, const char *s);
/* The same as a malloc'ed string (NULL only when out of memory); NULL in,
 * "" out. */
char *tb_text_escape(const char *s);

/* Writes JSON text (json-c's output) for a terminal or a pipe: DEL and the
 * C1 controls become \u007f / \u0080..\u009f and bytes that are not valid
 * UTF-8 become \ufffd, so the output is valid JSON that no terminal obeys.
 * json-c already escapes C0 controls; these bytes can only occur inside
 * strings, where \u escapes are allowed.  0, or -1 when writing fails. */
int tb_json_put(FILE *f, const char *json_text);

/* 1 when s is valid UTF-8: no stray or missing continuation bytes, overlong
 * forms, surrogates or code points above U+10FFFF.  Strings that trainbench
 * stores (options, preset text, paths in config.json) must be: they are
 * refused, not escaped, so a stored path stays exact. */
int tb_utf8_valid(const char *s);

#endif
