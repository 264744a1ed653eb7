/* Exporting result tables: GitHub-flavoured Markdown in the labs' shape,
 * CSV and JSON; and the atomic text write the sweep's summary.md needs. */
#ifndef TB_EXPORT_H
#define TB_EXPORT_H

#include "lab/table.h" // uses: tb_table

#include <stdio.h>

typedef enum { TB_EXPORT_MD, TB_EXPORT_CSV, TB_EXPORT_JSON } tb_export_format;

/* "md", "csv", "json" -> format; -1 when unknown. */
int tb_export_format_parse(const char *name);
/* Writes the tables to f.  0, or -1 after tb_fail (a write error). */
int tb_export_write(FILE *f, const tb_table *tables, int n, tb_export_format fmt);
/* Renders into a malloc'ed string (NULL after tb_fail). */
char *tb_export_string(const tb_table *tables, int n, tb_export_format fmt);
/* Writes text to path atomically: temporary file, fsync, rename, fsync of
 * the directory; a reader sees the old file or the new one. */
int tb_text_write_atomic(const char *path, const char *text);

#endif
