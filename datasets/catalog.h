/* The datasets `trainbench data fetch NAME` knows: their published files,
 * checksums and layout, and fetching one into the datasets root.
 *
 * Every function returns 0 or -1 after tb_fail() with a message that names
 * the file, URL or archive entry and says what to do. */
#ifndef TB_CATALOG_H
#define TB_CATALOG_H

#include "datasets/download.h" // uses: tb_download_options

typedef struct {
    const char *root;     /* datasets root (default $TRAINBENCH_DATA or ~/.local/share/trainbench/datasets) */
    const char *mirror;   /* base URL replacing the official one */
    const char *from;     /* local archive (CIFAR) or folder with the .gz files (IDX) */
    const char *checksum; /* md5:HEX | sha256:HEX replacing the published sum (single-archive datasets) */
    tb_download_options fetch;
} tb_catalog_options;

int tb_catalog_fetch(const char *name, const tb_catalog_options *o);

#endif
