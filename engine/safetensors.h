/* safetensors files: an 8-byte little-endian header length, a JSON header
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  "__metadata__": {"key": "value"}}, then the raw little-endian tensor bytes
 * (offsets relative to the end of the header).  PyTorch, JAX and the Hugging
 * Face tools read and write it, which is why trainbench exchanges weights,
 * optimizer state and batches with PyTorch in this format.
 *
 * The reader maps the file read-only and validates everything before it
 * hands out a tensor: header length, JSON, dtypes, shapes, offsets inside
 * the data section and not overlapping.  Messages name the file and tensor.
 * The writer collects copies of the tensors and writes the file atomically
 * (temporary file, fsync, rename). */
#ifndef TB_SAFETENSORS_H
#define TB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

enum { TB_ST_MAX_DIMS = 8 };

typedef enum {
    TB_ST_F64,
    TB_ST_F32,
    TB_ST_F16,
    TB_ST_BF16,
    TB_ST_I64,
    TB_ST_I32,
    TB_ST_I16,
    TB_ST_I8,
    TB_ST_U8,
    TB_ST_BOOL,
    TB_ST_DTYPE_COUNT
} tb_st_dtype;

/* "F32" etc.; -1 when unknown. */
int tb_st_dtype_parse(const char *name);
const char *tb_st_dtype_name(tb_st_dtype dt);
size_t tb_st_dtype_size(tb_st_dtype dt);

typedef struct {
    char *name;
    tb_st_dtype dtype;
    int ndim;
    int64_t shape[TB_ST_MAX_DIMS];
    size_t count;        /* elements */
    size_t bytes;        /* count * dtype size */
    const void *data;    /* inside the mapping; not necessarily aligned, copy before typed access */
} tb_st_tensor;

typedef struct {
    char *path;
    void *map;
    size_t map_bytes;
    int count;
    tb_st_tensor *tensors; /* in file order of their data */
    int nmeta;
    char **meta_keys, **meta_values;
} tb_st_file;

/* Opens and validates path.  0, or -1 after tb_fail naming the file. */
int tb_st_open(const char *path, tb_st_file *f);
void tb_st_close(tb_st_file *f);
/* The tensor called name, or NULL. */
const tb_st_tensor *tb_st_find(const tb_st_file *f, const char *name);
/* A __metadata__ value, or NULL. */
const char *tb_st_meta(const tb_st_file *f, const char *key);
/* Copies tensor name into dst as count floats; fails (naming file and
 * tensor) when it is missing, not F32, or has another element count.  want
 * may be NULL (no shape check) or the expected shape. */
int tb_st_read_f32(const tb_st_file *f, const char *name, int ndim, const int64_t *want, float *dst, size_t count);

typedef struct tb_st_writer tb_st_writer;

tb_st_writer *tb_st_writer_create(void);
void tb_st_writer_free(tb_st_writer *w);
/* Adds a tensor; the bytes are copied.  Names must be unique. */
int tb_st_writer_add(tb_st_writer *w, const char *name, tb_st_dtype dt, int ndim, const int64_t *shape,
                     const void *data);
int tb_st_writer_meta(tb_st_writer *w, const char *key, const char *value);
/* Writes every tensor added so far to path atomically. */
int tb_st_writer_save(tb_st_writer *w, const char *path);

#endif
