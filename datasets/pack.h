/* Packed dataset files: writing one (`trainbench data pack`); reading is in
 * dataset.h.
 *
 * Every function returns 0 or -1 after tb_fail() with a message that names
 * the file, URL or archive entry and says what to do. */
#ifndef TB_PACK_H
#define TB_PACK_H

typedef struct {
    const char *src;  /* a class-folder tree with train/ and val/, or a dataset name (cifar10, ...) */
    const char *data_dir; /* for dataset names: where its files are (NULL: default place) */
    const char *out;
    int max_side;     /* JPEG sources: shorter side... longer side at most this (0: keep) */
    int quality;      /* re-encoding quality (default 90) */
    int threads;
    int quiet;
} tb_pack_options;

int tb_pack_write(const tb_pack_options *o);

#endif
