/* JPEG training pipeline: TurboJPEG decoding (at a reduced DCT scale when
 * the crop allows), torchvision's RandomResizedCrop geometry, Resize +
 * CenterCrop for evaluation, and an antialiased bilinear resampler writing
 * normalised CHW floats. */
#ifndef TB_JPEG_H
#define TB_JPEG_H

#include "core/rng.h" // uses: tb_rng

#include <stddef.h>
#include <stdint.h>

/* A source region in full-resolution pixel units (fractional for the
 * evaluation crop, which Resize makes fractional in source terms). */
typedef struct {
    double top, left, height, width;
    int inside; /* filter taps stay inside the crop (crop, then resize: RandomResizedCrop);
                   0: they may reach the whole image (resize, then crop: CenterCrop) */
} tb_crop;

/* torchvision RandomResizedCrop.get_params(scale=(0.08, 1), ratio=(3/4, 4/3)):
 * up to 10 draws of (area fraction, log aspect ratio), then position; else
 * the central crop clamped to the ratio range.  Integer results. */
void tb_rrc_params(tb_rng *r, int h, int w, tb_crop *out);
/* Resize(round(size * 256 / 224)) of the shorter side, then CenterCrop(size),
 * expressed as the source region that becomes the size x size output. */
void tb_center_params(int h, int w, int size, tb_crop *out);

typedef struct tb_jpeg_ctx tb_jpeg_ctx; /* one per thread: TurboJPEG handle + scratch */

tb_jpeg_ctx *tb_jpeg_ctx_new(void);
void tb_jpeg_ctx_free(tb_jpeg_ctx *c);
/* Width and height from the JPEG header. `what` names the image in messages. */
int tb_jpeg_size(tb_jpeg_ctx *c, const uint8_t *data, size_t size, const char *what, int *w, int *h);
/* Decodes to RGB (interleaved) at scale num/8..8/8 chosen so the crop stays at
 * least out_size pixels on both sides; returns the decoded size and the
 * factor used (*scale_w = decoded width / full width). The buffer belongs to
 * the context. */
int tb_jpeg_decode(tb_jpeg_ctx *c, const uint8_t *data, size_t size, const char *what, const tb_crop *crop,
                   int out_size, const uint8_t **rgb, int *w, int *h, double *scale);
/* Crop `crop` (in the given RGB image's pixel units) resized to size x size
 * with antialiased bilinear filtering (PIL's), rounded to bytes as PIL does,
 * mirrored when flip, written as dst[c][y][x] = lut[c][byte]. */
int tb_resample_rgb(tb_jpeg_ctx *c, const uint8_t *rgb, int w, int h, const tb_crop *crop, int size, int flip,
                    const float lut[3][256], float *dst);
/* Decode + resample in one call; the crop is in full-resolution units. */
int tb_jpeg_crop_resize(tb_jpeg_ctx *c, const uint8_t *data, size_t size, const char *what, const tb_crop *crop,
                        int out_size, int flip, const float lut[3][256], float *dst);

/* Encodes RGB to a JPEG (4:2:0); *out is malloc'd. */
int tb_jpeg_encode(tb_jpeg_ctx *c, const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *size);
/* Resizes RGB to exactly nw x nh (antialiased bilinear) into a malloc'd buffer. */
int tb_resize_rgb(const uint8_t *rgb, int w, int h, int nw, int nh, uint8_t **out);

#endif
