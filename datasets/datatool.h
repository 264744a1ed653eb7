/* `trainbench data`: checksums, downloads, archive extraction, ImageNet
 * preparation, synthetic stand-in archives and packed dataset files.
 *
 * Every function returns 0 or -1 after tb_fail() with a message that names
 * the file, URL or archive entry and says what to do. */
#ifndef TB_DATATOOL_H
#define TB_DATATOOL_H

#include <stddef.h>
#include <stdint.h>

/* ---- checksums (OpenSSL EVP) ------------------------------------------- */

typedef struct {
    char algo[8]; /* "md5" or "sha256" */
    char hex[65]; /* lower-case hex digest */
} tb_checksum;

/* Parses "md5:HEX" or "sha256:HEX" (hex of the right length, any case). */
int tb_checksum_parse(const char *spec, tb_checksum *out);
/* Hex digest of a whole file; `hex` holds at least 65 bytes. */
int tb_checksum_file(const char *path, const char *algo, char *hex);
/* Fails (naming both sums) unless the file's digest is `want`. */
int tb_checksum_verify(const char *path, const tb_checksum *want);

/* ---- downloads (libcurl) ----------------------------------------------- */

typedef struct {
    long stall_timeout_s; /* fail when under 1 byte/s for this long (default 60) */
    long connect_timeout_s;
    int quiet;            /* no progress output */
} tb_fetch_options;

void tb_fetch_options_defaults(tb_fetch_options *o);
/* Downloads `url` (http, https, file) to `dest`.  The bytes go to
 * dest + ".part" first; an existing .part is resumed with a range request
 * (restarted when the server ignores ranges).  Renamed to `dest` when the
 * transfer completes; the caller verifies the checksum. */
int tb_fetch_url(const char *url, const char *dest, const tb_fetch_options *o);

/* ---- extraction (libarchive) ------------------------------------------- */

/* Extracts `archive` (tar, tar.gz, ...) into the existing folder `dest`.
 * Refuses, naming the entry, absolute paths, ".." components, links whose
 * target leaves `dest`, and special files.  Single-threaded: it uses
 * archive_write_disk, which touches the process umask. */
int tb_extract_archive(const char *archive, const char *dest);
/* Fails unless `name` (an archive entry path) is relative and free of ".."
 * components; `what` names the archive in the message. */
int tb_check_entry_name(const char *archive, const char *name);
/* 1 when a symlink entry `name` (already checked) pointing to `target`
 * resolves inside the extraction folder, 0 otherwise (absolute targets too). */
int tb_link_inside(const char *name, const char *target);

/* ---- the dataset registry and `data fetch` ----------------------------- */

typedef struct {
    const char *root;     /* datasets root (default $TRAINBENCH_DATA or ~/.local/share/trainbench/datasets) */
    const char *mirror;   /* base URL replacing the official one */
    const char *from;     /* local archive (CIFAR) or folder with the .gz files (IDX) */
    const char *checksum; /* md5:HEX | sha256:HEX replacing the published sum (single-archive datasets) */
    tb_fetch_options fetch;
} tb_data_fetch_options;

int tb_data_fetch(const char *name, const tb_data_fetch_options *o);

/* ---- ImageNet (ILSVRC2012) preparation --------------------------------- */

typedef struct {
    const char *train_tar, *val_tar;
    const char *devkit;  /* ILSVRC2012_devkit_t12.tar.gz: ground truth + meta.mat */
    const char *valprep; /* or a valprep.sh-style list: "mv FILE WNID/" lines */
    const char *out;
    int threads;         /* writer threads (default: cores, at least 2) */
    int verify;          /* check the published MD5s of the two tars first */
    int strict;          /* fail on a corrupt JPEG (default: skip it and count) */
    int quiet;
} tb_imagenet_prep_options;

int tb_imagenet_prepare(const tb_imagenet_prep_options *o);

/* ---- synthetic stand-ins ----------------------------------------------- */

/* CIFAR-10 binary tarball (cifar-10-binary.tar.gz) in `out`; per_class
 * images of each class per batch file (1000 gives the official sizes). */
int tb_synth_cifar10(const char *out, int per_class, uint64_t seed);
/* ILSVRC-layout archives in `out`: ILSVRC2012_img_train.tar (one nXXXXXXXX.tar
 * per class), ILSVRC2012_img_val.tar (flat), valprep.sh and
 * ILSVRC2012_devkit_t12.tar.gz.  JPEGs of about 500x375 at quality 90. */
int tb_synth_imagenet(const char *out, int classes, int per_class, int val_per_class, uint64_t seed,
                      int quiet);

/* ---- packed dataset files ---------------------------------------------- */

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
