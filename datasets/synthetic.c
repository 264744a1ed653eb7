/* Synthetic data for tests and benchmarks without downloads: CIFAR-shaped
 * (32x32) by default, any square side on request (--image-size, so a
 * ResNet-50 benchmark can train at 224x224 without ImageNet).
 *
 * Each class has a fixed template: a 4x4 grid of blocks (8x8 pixels at
 * 32x32, side/4 in general) with a random colour per block and channel.  An
 * image is its class template plus uniform noise, so a small network learns
 * it in a few epochs (also under random crops, which shift by at most half a
 * block at 32x32), yet no two images are alike.  The templates do not depend
 * on the seed, so differently seeded sets (train and test) are samples of
 * the same task.  At 32x32 every pixel is what it always was, so results
 * recorded before sizes existed still hold. */
#include "core/error.h" // uses: tb_fail, tb_malloc
#include "core/rng.h" // uses: tb_rng, tb_rng_seed, tb_rng_below, tb_rng_next
#include "datasets/dataset.h" // uses: tb_dataset_synthetic, tb_dataset, tb_dataset_synthetic_sized, ...

#include <stdlib.h>
#include <string.h>

#define SYN_GRID 4
#define SYN_NOISE 40              /* noise in [-40, 40] */
#define SYN_TEMPLATE_SEED 0x7465u /* fixed: the task itself */

/* Template colours lie in [SYN_NOISE, 255 - SYN_NOISE], so pixels never clip
 * and are never all zero. */
static void make_template(int label, uint8_t grid[3][SYN_GRID][SYN_GRID])
{
    tb_rng r;
    tb_rng_seed(&r, SYN_TEMPLATE_SEED, (uint64_t)label, 0, 0);
    for (int c = 0; c < 3; c++)
        for (int by = 0; by < SYN_GRID; by++)
            for (int bx = 0; bx < SYN_GRID; bx++)
                grid[c][by][bx] = (uint8_t)(SYN_NOISE + tb_rng_below(&r, 256 - 2 * SYN_NOISE));
}

/* Pixel (y, x) takes block (y * GRID / side, x * GRID / side): y / 8 at 32,
 * and blocks differ by at most one pixel when side is not a multiple of 4. */
static void make_image(uint8_t grid[3][SYN_GRID][SYN_GRID], int side, tb_rng *r, uint8_t *px)
{
    uint64_t bits = 0;
    const int plane = side * side;
    for (int i = 0; i < 3 * plane; i++) {
        if (i % 8 == 0)
            bits = tb_rng_next(r);
        int noise = (int)((bits & 0xff) * (2 * SYN_NOISE + 1) >> 8) - SYN_NOISE;
        bits >>= 8;
        int c = i / plane, y = i / side % side, x = i % side;
        px[i] = (uint8_t)(grid[c][y * SYN_GRID / side][x * SYN_GRID / side] + noise);
    }
}

int tb_dataset_synthetic(int count, int classes, uint64_t seed, tb_dataset *out)
{
    return tb_dataset_synthetic_sized(count, classes, TB_SYNTHETIC_SIDE, seed, out);
}

int tb_dataset_synthetic_sized(int count, int classes, int side, uint64_t seed, tb_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (count < 1 || classes < 1 || classes > 1000)
        return tb_fail("synthetic dataset: %d images of %d classes requested; need at least 1 image and 1..1000 "
                       "classes",
                       count, classes);
    if (side < TB_SYNTHETIC_MIN_SIDE || side > TB_SYNTHETIC_MAX_SIDE)
        return tb_fail("synthetic dataset: image size %d; use --image-size %d to %d (default %d)", side,
                       TB_SYNTHETIC_MIN_SIDE, TB_SYNTHETIC_MAX_SIDE, TB_SYNTHETIC_SIDE);
    const size_t image = 3 * (size_t)side * (size_t)side;
    uint8_t(*grids)[3][SYN_GRID][SYN_GRID] = tb_malloc(sizeof *grids * (size_t)classes, "synthetic templates");
    out->pixels = tb_malloc(image * (size_t)count, "synthetic pixels");
    out->labels = tb_malloc(sizeof *out->labels * (size_t)count, "synthetic labels");
    if (!grids || !out->pixels || !out->labels) {
        free(grids);
        tb_dataset_free(out);
        return -1;
    }
    for (int k = 0; k < classes; k++)
        make_template(k, grids[k]);
    tb_rng r;
    tb_rng_seed(&r, seed, 0, 0, 0);
    for (int i = 0; i < count; i++) {
        out->labels[i] = (int32_t)tb_rng_below(&r, (uint32_t)classes);
        make_image(grids[out->labels[i]], side, &r, out->pixels + image * (size_t)i);
    }
    free(grids);
    strcpy(out->name, "synthetic");
    out->count = out->total = count;
    out->channels = 3;
    out->height = out->width = side;
    out->classes = classes;
    for (int c = 0; c < 3; c++) {
        out->mean[c] = 0.5f;
        out->std[c] = 0.25f;
    }
    out->flip_ok = 1;
    return 0;
}
