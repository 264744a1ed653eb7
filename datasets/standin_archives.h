/* Synthetic stand-ins for the real archives, for tests and benchmarks.
 *
 * Every function returns 0 or -1 after tb_fail() with a message that names
 * the file, URL or archive entry and says what to do. */
#ifndef TB_STANDIN_ARCHIVES_H
#define TB_STANDIN_ARCHIVES_H

#include <stdint.h>

/* CIFAR-10 binary tarball (cifar-10-binary.tar.gz) in `out`; per_class
 * images of each class per batch file (1000 gives the official sizes). */
int tb_standin_cifar10(const char *out, int per_class, uint64_t seed);
/* ILSVRC-layout archives in `out`: ILSVRC2012_img_train.tar (one nXXXXXXXX.tar
 * per class), ILSVRC2012_img_val.tar (flat), valprep.sh and
 * ILSVRC2012_devkit_t12.tar.gz.  JPEGs of about 500x375 at quality 90. */
int tb_standin_imagenet(const char *out, int classes, int per_class, int val_per_class, uint64_t seed,
                      int quiet);

#endif
