/* Synthetic CIFAR-shaped data for tests and benchmarks without downloads.
 *
 * Each class has a fixed template: a 4x4 grid of 8x8-pixel blocks with a
 * random colour per block and channel.  An image is its class template plus
 * uniform noise, so a small network learns it in a few epochs (also under
 * random crops, which shift by at most half a block), yet no two images are
 * alike.  The templates do not depend on the seed, so differently seeded sets
 * (train and test) are samples of the same task. */
#include "core/error.h" // uses: tb_fail, tb_malloc
#include "core/rng.h" // uses: tb_rng, tb_rng_seed, tb_rng_below, tb_rng_next
#include "datasets/dataset.h" // uses: tb_dataset_synthetic, tb_dataset, tb_dataset_free

#include <stdlib.h>
#include <string.h>

#define SYN_SIDE 32
#define SYN_BLOCK 8
#define SYN_GRID (SYN_SIDE / SYN_BLOCK)
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

static void make_image(uint8_t grid[3][SYN_GRID][SYN_GRID], tb_rng *r, uint8_t *px)
{
    uint64_t bits = 0;
    for (int i = 0; i < 3 * SYN_SIDE * SYN_SIDE; i++) {
        if (i % 8 == 0)
            bits = tb_rng_next(r);
        int noise = (int)((bits & 0xff) * (2 * SYN_NOISE + 1) >> 8) - SYN_NOISE;
        bits >>= 8;
        int c = i / (SYN_SIDE * SYN_SIDE), y = i / SYN_SIDE % SYN_SIDE, x = i % SYN_SIDE;
        px[i] = (uint8_t)(grid[c][y / SYN_BLOCK][x / SYN_BLOCK] + noise);
    }
}

int tb_dataset_synthetic(int count, int classes, uint64_t seed, tb_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (count < 1 || classes < 1 || classes > 1000)
        return tb_fail("synthetic dataset: %d images of %d classes requested; need at least 1 image and 1..1000 "
                       "classes",
                       count, classes);
    const size_t image = 3 * SYN_SIDE * SYN_SIDE;
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
        make_image(grids[out->labels[i]], &r, out->pixels + image * (size_t)i);
    }
    free(grids);
    strcpy(out->name, "synthetic");
    out->count = out->total = count;
    out->channels = 3;
    out->height = out->width = SYN_SIDE;
    out->classes = classes;
    for (int c = 0; c < 3; c++) {
        out->mean[c] = 0.5f;
        out->std[c] = 0.25f;
    }
    out->flip_ok = 1;
    return 0;
}
