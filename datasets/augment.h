/* Turning one stored image into one network input: centred zero padding to
 * the output size, a shift as RandomCrop(size, padding=4) makes it, an
 * optional mirror, and normalisation to float CHW.  The loader draws the
 * shift and mirror; this part only applies them. */
#ifndef TB_AUGMENT_H
#define TB_AUGMENT_H

#include "datasets/dataset.h" // uses: tb_dataset

#include <stdint.h>

#define TB_AUGMENT_PAD 4 /* RandomCrop padding: shifts are in [-4, 4] */

typedef struct {
    int channels, in_h, in_w; /* stored image */
    int out_h, out_w;         /* after centred padding */
    int pad_y, pad_x;         /* where the stored image sits in the padded one */
    /* Normalised value of each raw byte per channel, computed as torchvision
     * does in float32: (v / 255 - mean) / std.  Padding is raw 0: lut[c][0]. */
    float lut[3][256];
} tb_augment;

/* out_size: pad to at least this many pixels per side (0: no padding). */
void tb_augment_init(tb_augment *a, const tb_dataset *ds, int out_size);

/* dst[c][y][x] = padded[c][y + dy][x' + dx] with x' = flip ? out_w-1-x : x,
 * zero (raw) outside the stored image, normalised.  That is the crop of the
 * 4-padded image at top 4+dy, left 4+dx, then the horizontal flip. */
void tb_augment_image(const tb_augment *a, const uint8_t *src, int dy, int dx, int flip, float *dst);

#endif
