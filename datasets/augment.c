/* Per-image work of the loader.  Rows are split into a zero-padding part and
 * a part read from the source, so the inner loop is a plain table lookup. */
#include "datasets/augment.h"

void tb_augment_init(tb_augment *a, const tb_dataset *ds, int out_size)
{
    a->channels = ds->channels;
    a->in_h = ds->height;
    a->in_w = ds->width;
    a->out_h = ds->height > out_size ? ds->height : out_size;
    a->out_w = ds->width > out_size ? ds->width : out_size;
    a->pad_y = (a->out_h - a->in_h) / 2;
    a->pad_x = (a->out_w - a->in_w) / 2;
    for (int c = 0; c < ds->channels && c < 3; c++)
        for (int v = 0; v < 256; v++)
            a->lut[c][v] = ((float)v / 255.0f - ds->mean[c]) / ds->std[c];
}

static void fill(float *d, int n, float v)
{
    for (int i = 0; i < n; i++)
        d[i] = v;
}

static int max_int(int a, int b) { return a > b ? a : b; }
static int min_int(int a, int b) { return a < b ? a : b; }

void tb_augment_image(const tb_augment *a, const uint8_t *src, int dy, int dx, int flip, float *dst)
{
    const int W = a->out_w, H = a->out_h, w = a->in_w, h = a->in_h;
    /* Source column of output column x: x + ox, or W - 1 + ox - x mirrored. */
    const int ox = dx - a->pad_x, oy = dy - a->pad_y;
    int x0 = flip ? max_int(0, W + ox - w) : max_int(0, -ox);
    int x1 = flip ? min_int(W, W + ox) : min_int(W, w - ox);
    if (x1 < x0)
        x1 = x0;
    for (int c = 0; c < a->channels; c++) {
        const float *lut = a->lut[c];
        const uint8_t *plane = src + (size_t)c * h * w;
        for (int y = 0; y < H; y++) {
            float *d = dst + ((size_t)c * H + y) * W;
            const int sy = y + oy;
            if (sy < 0 || sy >= h) {
                fill(d, W, lut[0]);
                continue;
            }
            const uint8_t *row = plane + (size_t)sy * w;
            fill(d, x0, lut[0]);
            if (flip)
                for (int x = x0; x < x1; x++)
                    d[x] = lut[row[W - 1 + ox - x]];
            else
                for (int x = x0; x < x1; x++)
                    d[x] = lut[row[x + ox]];
            fill(d + x1, W - x1, lut[0]);
        }
    }
}
