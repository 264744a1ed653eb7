/* The JPEG pipeline of the ImageNet loader.  Geometry follows torchvision
 * (RandomResizedCrop, Resize + CenterCrop) and the resampler follows PIL's
 * antialiased bilinear filter (a triangle stretched by the downscale factor),
 * so images match what a PyTorch ImageNet loader sees up to rounding.
 *
 * Decoding is most of the cost, so the decoder shrinks the image in the
 * DCT (1/2, 1/4, ... of full size: TurboJPEG's scaling factors) whenever the
 * crop still has at least out_size pixels per side afterwards; a 500x375
 * image whose random crop covers 60% of it still decodes at full size, the
 * evaluation crop of a 1000x750 image decodes at half size. */
#include "datasets/jpeg.h"
#include "core/error.h" // uses: tb_calloc, tb_fail, tb_fail_prefix

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

struct tb_jpeg_ctx {
    tjhandle dec, enc;
    uint8_t *rgb;
    size_t rgb_cap;
    float *tmp;
    size_t tmp_cap;
    void *coef; /* starts and counts (ints), then weights (floats) */
    size_t coef_cap;
};

tb_jpeg_ctx *tb_jpeg_ctx_new(void)
{
    tb_jpeg_ctx *c = tb_calloc(1, sizeof *c, "JPEG decoder");
    if (!c)
        return NULL;
    c->dec = tjInitDecompress();
    if (!c->dec) {
        tb_fail("cannot initialise the TurboJPEG decoder: %s", tjGetErrorStr2(NULL));
        free(c);
        return NULL;
    }
    return c;
}

void tb_jpeg_ctx_free(tb_jpeg_ctx *c)
{
    if (!c)
        return;
    if (c->dec)
        tjDestroy(c->dec);
    if (c->enc)
        tjDestroy(c->enc);
    free(c->rgb);
    free(c->tmp);
    free(c->coef);
    free(c);
}

static int grow(void **buf, size_t *cap, size_t need, const char *what)
{
    if (need <= *cap)
        return 0;
    void *b = realloc(*buf, need);
    if (!b)
        return tb_fail("out of memory (%zu bytes) for %s", need, what);
    *buf = b;
    *cap = need;
    return 0;
}

void tb_rrc_params(tb_rng *r, int h, int w, tb_crop *out)
{
    const double area = (double)h * w, lr0 = log(3.0 / 4.0), lr1 = log(4.0 / 3.0);
    out->inside = 1;
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * (0.08 + (1.0 - 0.08) * tb_rng_uniform(r));
        double ratio = exp(lr0 + (lr1 - lr0) * tb_rng_uniform(r));
        int cw = (int)nearbyint(sqrt(target * ratio)), ch = (int)nearbyint(sqrt(target / ratio));
        if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
            out->top = tb_rng_below(r, (uint32_t)(h - ch + 1));
            out->left = tb_rng_below(r, (uint32_t)(w - cw + 1));
            out->height = ch;
            out->width = cw;
            return;
        }
    }
    /* Fallback: the whole image, cut to the nearest allowed aspect ratio. */
    double in_ratio = (double)w / h;
    int cw = w, ch = h;
    if (in_ratio < 3.0 / 4.0)
        ch = (int)nearbyint(w / (3.0 / 4.0));
    else if (in_ratio > 4.0 / 3.0)
        cw = (int)nearbyint(h * (4.0 / 3.0));
    out->top = (h - ch) / 2;
    out->left = (w - cw) / 2;
    out->height = ch;
    out->width = cw;
}

void tb_center_params(int h, int w, int size, tb_crop *out)
{
    /* Resize: shorter side to rs, the other truncated as torchvision does. */
    int rs = (int)nearbyint(size * 256.0 / 224.0);
    int rh, rw;
    if (w <= h) {
        rw = rs;
        rh = (int)((double)rs * h / w);
    } else {
        rh = rs;
        rw = (int)((double)rs * w / h);
    }
    double sy = (double)h / rh, sx = (double)w / rw;
    int top = (int)nearbyint((rh - size) / 2.0), left = (int)nearbyint((rw - size) / 2.0);
    out->top = top * sy;
    out->left = left * sx;
    out->height = size * sy;
    out->width = size * sx;
    out->inside = 0;
}

int tb_jpeg_size(tb_jpeg_ctx *c, const uint8_t *data, size_t size, const char *what, int *w, int *h)
{
    int sub, cs;
    *w = *h = 0;
    /* A header cut short can "succeed" without a size: check it. */
    if (tjDecompressHeader3(c->dec, data, (unsigned long)size, w, h, &sub, &cs) != 0 || *w < 1 || *h < 1)
        return tb_fail("%s: not a readable JPEG (%s)", what, tjGetErrorStr2(c->dec));
    return 0;
}

int tb_jpeg_decode(tb_jpeg_ctx *c, const uint8_t *data, size_t size, const char *what, const tb_crop *crop,
                   int out_size, const uint8_t **rgb, int *w, int *h, double *scale)
{
    int fw = 0, fh = 0, sub, cs;
    if (tjDecompressHeader3(c->dec, data, (unsigned long)size, &fw, &fh, &sub, &cs) != 0 || fw < 1 || fh < 1)
        return tb_fail("%s: not a readable JPEG (%s)", what, tjGetErrorStr2(c->dec));
    /* The smallest DCT scale that keeps the crop at least out_size wide and high. */
    int n = 0;
    tjscalingfactor *f = tjGetScalingFactors(&n);
    tjscalingfactor best = {1, 1};
    double best_v = 1.0;
    for (int i = 0; f && i < n; i++) {
        double v = (double)f[i].num / f[i].denom;
        if (v <= 1.0 && v < best_v && crop && crop->width * v >= out_size && crop->height * v >= out_size) {
            best = f[i];
            best_v = v;
        }
    }
    int sw = TJSCALED(fw, best), sh = TJSCALED(fh, best);
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    if (grow((void **)&c->rgb, &c->rgb_cap, (size_t)sw * sh * (cmyk ? 4 : 3), "decoded image"))
        return -1;
    if (tjDecompress2(c->dec, data, (unsigned long)size, c->rgb, sw, 0, sh, cmyk ? TJPF_CMYK : TJPF_RGB, 0) != 0 &&
        tjGetErrorCode(c->dec) != TJERR_WARNING) /* warnings (a truncated scan) still give an image */
        return tb_fail("%s: JPEG decoding failed (%s); the file is corrupt: remove it or prepare the data again",
                       what, tjGetErrorStr2(c->dec));
    if (cmyk) {
        /* Adobe CMYK JPEGs (a few in ImageNet) store inverted inks, so
         * C*K/255 is the red level, and so on. */
        for (size_t i = 0; i < (size_t)sw * sh; i++) {
            const uint8_t *p = c->rgb + 4 * i;
            uint8_t r = (uint8_t)(p[0] * p[3] / 255), g = (uint8_t)(p[1] * p[3] / 255),
                    b = (uint8_t)(p[2] * p[3] / 255);
            c->rgb[3 * i] = r;
            c->rgb[3 * i + 1] = g;
            c->rgb[3 * i + 2] = b;
        }
    }
    *rgb = c->rgb;
    *w = sw;
    *h = sh;
    *scale = (double)sw / fw;
    return 0;
}

/* PIL's precompute_coeffs for one axis: output i reads inputs
 * starts[i] .. starts[i] + counts[i] - 1 with normalised triangle weights. */
static int coeffs(double box0, double box_len, int lo, int hi, int out, int *starts, int *counts, float *w, int kmax)
{
    double scale = box_len / out, fs = scale > 1.0 ? scale : 1.0, support = fs;
    for (int i = 0; i < out; i++) {
        double center = box0 + (i + 0.5) * scale;
        int xmin = (int)floor(center - support + 0.5), xmax = (int)floor(center + support + 0.5);
        if (xmin < lo)
            xmin = lo;
        if (xmax > hi)
            xmax = hi;
        if (xmax - xmin > kmax)
            xmax = xmin + kmax;
        if (xmax <= xmin) { /* degenerate crop: nearest valid pixel */
            xmin = center < lo ? lo : center >= hi ? hi - 1 : (int)center;
            xmax = xmin + 1;
        }
        double total = 0;
        float *wi = w + (size_t)i * kmax;
        for (int x = xmin; x < xmax; x++) {
            double t = fabs((x - center + 0.5) / fs);
            double v = t < 1.0 ? 1.0 - t : 0.0;
            wi[x - xmin] = (float)v;
            total += v;
        }
        for (int x = 0; x < xmax - xmin; x++)
            wi[x] = total > 0 ? (float)(wi[x] / total) : 1.0f / (xmax - xmin);
        starts[i] = xmin;
        counts[i] = xmax - xmin;
    }
    return 0;
}

static inline uint8_t to_byte(float v)
{
    int i = (int)lrintf(v);
    return (uint8_t)(i < 0 ? 0 : i > 255 ? 255 : i);
}

/* The resampler behind both outputs: CHW floats through lut, or RGB bytes. */
static int resample(tb_jpeg_ctx *c, const uint8_t *rgb, int w, int h, const tb_crop *crop, int ow, int oh, int flip,
                    const float lut[3][256], float *dst, uint8_t *dst_rgb)
{
    const int kx = (int)ceil(2.0 * (crop->width / ow > 1 ? crop->width / ow : 1)) + 2;
    const int ky = (int)ceil(2.0 * (crop->height / oh > 1 ? crop->height / oh : 1)) + 2;
    size_t ints = 2 * (size_t)(ow + oh), floats = (size_t)ow * kx + (size_t)oh * ky;
    if (grow(&c->coef, &c->coef_cap, ints * sizeof(int) + floats * sizeof(float), "resampling coefficients"))
        return -1;
    int *xs = c->coef, *ys = xs + ow, *xn = ys + oh, *yn = xn + ow;
    float *xw = (float *)(yn + oh), *yw = xw + (size_t)ow * kx;
    int xlo = crop->inside ? (int)floor(crop->left + 1e-6) : 0;
    int xhi = crop->inside ? (int)ceil(crop->left + crop->width - 1e-6) : w;
    int ylo = crop->inside ? (int)floor(crop->top + 1e-6) : 0;
    int yhi = crop->inside ? (int)ceil(crop->top + crop->height - 1e-6) : h;
    if (xlo < 0)
        xlo = 0;
    if (ylo < 0)
        ylo = 0;
    if (xhi > w)
        xhi = w;
    if (yhi > h)
        yhi = h;
    if (xhi <= xlo || yhi <= ylo)
        return tb_fail("resampling: empty crop (%.1f,%.1f %.1fx%.1f) of a %dx%d image", crop->left, crop->top,
                       crop->width, crop->height, w, h);
    coeffs(crop->left, crop->width, xlo, xhi, ow, xs, xn, xw, kx);
    coeffs(crop->top, crop->height, ylo, yhi, oh, ys, yn, yw, ky);
    int r0 = ys[0], r1 = ys[oh - 1] + yn[oh - 1];
    for (int y = 0; y < oh; y++) {
        if (ys[y] < r0)
            r0 = ys[y];
        if (ys[y] + yn[y] > r1)
            r1 = ys[y] + yn[y];
    }
    if (grow((void **)&c->tmp, &c->tmp_cap, sizeof(float) * (size_t)(r1 - r0) * ow * 3, "resampling buffer"))
        return -1;
    /* Horizontal pass over the rows the vertical pass needs. */
    for (int y = r0; y < r1; y++) {
        const uint8_t *row = rgb + (size_t)y * w * 3;
        float *t = c->tmp + (size_t)(y - r0) * ow * 3;
        for (int x = 0; x < ow; x++) {
            const uint8_t *p = row + (size_t)xs[x] * 3;
            const float *wk = xw + (size_t)x * kx;
            float a = 0, b = 0, d = 0;
            for (int k = 0; k < xn[x]; k++, p += 3) {
                a += wk[k] * p[0];
                b += wk[k] * p[1];
                d += wk[k] * p[2];
            }
            t[3 * x] = a;
            t[3 * x + 1] = b;
            t[3 * x + 2] = d;
        }
    }
    const size_t plane = (size_t)ow * oh;
    for (int y = 0; y < oh; y++) {
        const float *wk = yw + (size_t)y * ky;
        for (int x = 0; x < ow; x++) {
            const float *t = c->tmp + ((size_t)(ys[y] - r0) * ow + x) * 3;
            float a = 0, b = 0, d = 0;
            for (int k = 0; k < yn[y]; k++, t += (size_t)ow * 3) {
                a += wk[k] * t[0];
                b += wk[k] * t[1];
                d += wk[k] * t[2];
            }
            int ox = flip ? ow - 1 - x : x;
            if (dst) {
                float *o = dst + (size_t)y * ow + ox;
                o[0] = lut[0][to_byte(a)];
                o[plane] = lut[1][to_byte(b)];
                o[2 * plane] = lut[2][to_byte(d)];
            } else {
                uint8_t *o = dst_rgb + ((size_t)y * ow + ox) * 3;
                o[0] = to_byte(a);
                o[1] = to_byte(b);
                o[2] = to_byte(d);
            }
        }
    }
    return 0;
}

int tb_resample_rgb(tb_jpeg_ctx *c, const uint8_t *rgb, int w, int h, const tb_crop *crop, int size, int flip,
                    const float lut[3][256], float *dst)
{
    return resample(c, rgb, w, h, crop, size, size, flip, lut, dst, NULL);
}

int tb_jpeg_crop_resize(tb_jpeg_ctx *c, const uint8_t *data, size_t size, const char *what, const tb_crop *crop,
                        int out_size, int flip, const float lut[3][256], float *dst)
{
    const uint8_t *rgb;
    int w, h;
    double s;
    if (tb_jpeg_decode(c, data, size, what, crop, out_size, &rgb, &w, &h, &s))
        return -1;
    tb_crop scaled = {crop->top * s, crop->left * s, crop->height * s, crop->width * s, crop->inside};
    if (resample(c, rgb, w, h, &scaled, out_size, out_size, flip, lut, dst, NULL))
        return tb_fail_prefix("%s", what);
    return 0;
}

int tb_jpeg_encode(tb_jpeg_ctx *c, const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *size)
{
    if (!c->enc && !(c->enc = tjInitCompress()))
        return tb_fail("cannot initialise the TurboJPEG encoder: %s", tjGetErrorStr2(NULL));
    unsigned char *buf = NULL;
    unsigned long n = 0;
    if (tjCompress2(c->enc, rgb, w, 0, h, TJPF_RGB, &buf, &n, TJSAMP_420, quality, 0) != 0) {
        tjFree(buf);
        return tb_fail("JPEG encoding of a %dx%d image failed: %s", w, h, tjGetErrorStr2(c->enc));
    }
    *out = malloc(n);
    if (!*out) {
        tjFree(buf);
        return tb_fail("out of memory for a %lu-byte JPEG", n);
    }
    memcpy(*out, buf, n);
    tjFree(buf);
    *size = n;
    return 0;
}

int tb_resize_rgb(const uint8_t *rgb, int w, int h, int nw, int nh, uint8_t **out)
{
    *out = malloc((size_t)nw * nh * 3);
    tb_jpeg_ctx tmp = {0};
    if (!*out)
        return tb_fail("out of memory for a %dx%d image", nw, nh);
    tb_crop all = {0, 0, h, w, 1};
    int rc = resample(&tmp, rgb, w, h, &all, nw, nh, 0, NULL, NULL, *out);
    free(tmp.tmp);
    free(tmp.coef);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
