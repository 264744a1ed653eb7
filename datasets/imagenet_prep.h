/* ImageNet (ILSVRC2012) preparation: the official tars to the class-folder
 * tree `trainbench train --dataset imagenet` reads.
 *
 * Every function returns 0 or -1 after tb_fail() with a message that names
 * the file, URL or archive entry and says what to do. */
#ifndef TB_IMAGENET_PREP_H
#define TB_IMAGENET_PREP_H

typedef struct {
    const char *train_tar, *val_tar;
    const char *devkit;  /* ILSVRC2012_devkit_t12.tar.gz: ground truth + meta.mat */
    const char *valprep; /* or a valprep.sh-style list: "mv FILE WNID/" lines */
    const char *out;
    int threads;         /* writer threads (default: cores, at least 2) */
    int verify;          /* check the published MD5s of the two tars first */
    /* "md5:HEX" or "sha256:HEX" replacing a tar's published sum (a
     * repackaged archive); given, that tar is checked even without verify */
    const char *train_checksum, *val_checksum;
    int strict;          /* fail on a corrupt JPEG (default: skip it and count) */
    int quiet;
} tb_imagenet_prep_options;

int tb_imagenet_prepare(const tb_imagenet_prep_options *o);

#endif
