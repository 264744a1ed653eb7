/* A small reader for MATLAB v5 MAT files (datasets/matfile.c): just enough
 * for the ILSVRC2012 devkit's meta.mat, a struct array whose fields are
 * numeric (read as double) or char arrays.
 *
 * Supported: the 128-byte header (version 0x0100, little-endian "IM"),
 * data elements in the normal and the small format, miCOMPRESSED (zlib),
 * and miMATRIX of class mxSTRUCT_CLASS whose fields are numeric matrices
 * (any storage type, converted to double) or mxCHAR_CLASS (miUTF16,
 * miUINT16, miUINT8, miUTF8; code units above 127 read as '?').  Fields of
 * any other class (cells, nested structs, complex, sparse) are kept as
 * TB_MAT_OTHER without being looked into.  Every length is checked against
 * the bytes present: a malformed file fails through tb_fail with the
 * file's label and the offset, never reads out of bounds. */
#ifndef TB_MATFILE_H
#define TB_MATFILE_H

#include <stddef.h>

typedef enum { TB_MAT_OTHER, TB_MAT_NUMBER, TB_MAT_CHAR } tb_mat_kind;

typedef struct {
    tb_mat_kind kind;
    size_t count; /* numbers or chars */
    double *num;  /* TB_MAT_NUMBER: count values (column-major) */
    char *str;    /* TB_MAT_CHAR: count chars + '\0' */
} tb_mat_value;

typedef struct {
    size_t nelem, nfields;
    char **names;         /* nfields field names */
    tb_mat_value *values; /* values[e * nfields + f] */
} tb_mat_struct;

/* Finds the variable `var` (a struct array) in the MAT file image data/size
 * and reads it into *out.  `label` names the file in messages. */
int tb_mat_read_struct(const char *label, const void *data, size_t size, const char *var, tb_mat_struct *out);

/* The index of field `name`, or -1. */
int tb_mat_field(const tb_mat_struct *s, const char *name);

void tb_mat_struct_free(tb_mat_struct *s);

#endif
