/* The JPEG pipeline: RandomResizedCrop and centre-crop geometry, exact
 * flip and normalisation on known pixels, reduced-scale decoding, loader
 * batches identical for any worker count on class folders, and packed files
 * (JPEG and raw) read back byte for byte with identical loader output. */
#include "core/error.h" // uses: tb_last_error
#include "core/fsutil.h" // uses: tb_mkdir_p, tb_write_file, tb_rm_rf
#include "datasets/dataset.h" // uses: tb_dataset, tb_dataset_load, TB_SPLIT_TRAIN, TB_SPLIT_TEST, tb_dataset_free
#include "datasets/imageset.h" // uses: tb_imageset_class_name, tb_pack, tb_pack_open, tb_pack_header, ...
#include "datasets/jpeg.h" // uses: tb_crop, tb_rrc_params, tb_center_params, tb_jpeg_ctx, tb_jpeg_ctx_new, ...
#include "datasets/loader.h" // uses: tb_loader_config, tb_loader_config_defaults, tb_loader, tb_loader_create, ...
#include "datasets/pack.h" // uses: tb_pack_options, tb_pack_write
#include "tests/check.h" // uses: CHECK, CHECK_CLOSE, check_finish

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static float lut[3][256];
static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};

static void init_lut(void)
{
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = ((float)v / 255.0f - mean[c]) / stdv[c];
}

static void test_rrc(void)
{
    tb_rng r;
    tb_rng_seed(&r, 7, 0, 0, 0);
    int bad = 0;
    double min_area = 1, max_area = 0;
    for (int i = 0; i < 5000; i++) {
        tb_crop c;
        tb_rrc_params(&r, 375, 500, &c);
        double area = c.width * c.height / (375.0 * 500), ratio = c.width / c.height;
        bad += c.top < 0 || c.left < 0 || c.top + c.height > 375 || c.left + c.width > 500 || c.width < 1 ||
               c.height < 1 || c.top != (int)c.top || ratio < 0.74 || ratio > 1.36 || !c.inside;
        min_area = area < min_area ? area : min_area;
        max_area = area > max_area ? area : max_area;
    }
    CHECK(bad == 0, "%d random crops out of bounds or of a bad aspect ratio", bad);
    CHECK(min_area < 0.1 && min_area >= 0.075 && max_area > 0.9, "crop areas span %.3f..%.3f, want ~0.08..1",
          min_area, max_area);
    /* A very wide image: every draw fails, the fallback is the central crop
     * at the widest allowed ratio, 4/3. */
    tb_crop c;
    tb_rrc_params(&r, 10, 1000, &c);
    CHECK(c.height == 10 && c.width == 13 && c.left == (1000 - 13) / 2 && c.top == 0,
          "fallback crop %gx%g at %g,%g", c.width, c.height, c.left, c.top);
    /* Same seed, same crops. */
    tb_rng a, b;
    tb_rng_seed(&a, 3, 1, 2, 3);
    tb_rng_seed(&b, 3, 1, 2, 3);
    tb_crop ca, cb;
    tb_rrc_params(&a, 300, 400, &ca);
    tb_rrc_params(&b, 300, 400, &cb);
    /* Field by field: memcmp would also compare the struct's padding. */
    CHECK(ca.top == cb.top && ca.left == cb.left && ca.height == cb.height && ca.width == cb.width &&
              ca.inside == cb.inside,
          "%s", "RandomResizedCrop is not reproducible");
}

static void test_center(void)
{
    tb_crop c;
    /* 500x375 -> Resize(256): 341x256 -> CenterCrop(224) at left 58 (round(58.5) = 58), top 16. */
    tb_center_params(375, 500, 224, &c);
    CHECK_CLOSE(c.left, 58 * 500.0 / 341, 1e-9, "centre crop left");
    CHECK_CLOSE(c.top, 16 * 375.0 / 256, 1e-9, "centre crop top");
    CHECK_CLOSE(c.width, 224 * 500.0 / 341, 1e-9, "centre crop width");
    CHECK_CLOSE(c.height, 224 * 375.0 / 256, 1e-9, "centre crop height");
    CHECK(!c.inside, "centre crop filters across the whole image (resize, then crop)");
    tb_center_params(500, 375, 64, &c); /* portrait, size 64: resize to 73 */
    CHECK_CLOSE(c.width, 64 * 375.0 / 73, 1e-9, "portrait centre crop width");
}

/* Left half red, right half blue; or a flat grey. */
static uint8_t *make_rgb(int w, int h, int split)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            if (!split)
                q[0] = q[1] = q[2] = 128;
            else
                q[0] = x < w / 2 ? 255 : 0, q[1] = 0, q[2] = x < w / 2 ? 0 : 255;
        }
    return p;
}

static void test_known_pixels(void)
{
    tb_jpeg_ctx *jc = tb_jpeg_ctx_new();
    const int S = 32;
    float *out = malloc(sizeof *out * 3 * S * S);
    uint8_t *rgb = make_rgb(64, 48, 1);
    tb_crop all = {0, 0, 48, 64, 1};
    CHECK(tb_resample_rgb(jc, rgb, 64, 48, &all, S, 0, lut, out) == 0, "resample: %s", tb_last_error());
    /* Unflipped: red on the left, blue on the right; exact normalisation. */
    CHECK(out[0] == lut[0][255] && out[2 * S * S] == lut[2][0], "left pixel %g %g", out[0], out[2 * S * S]);
    CHECK(out[S - 1] == lut[0][0] && out[2 * S * S + S - 1] == lut[2][255], "right pixel");
    CHECK(tb_resample_rgb(jc, rgb, 64, 48, &all, S, 1, lut, out) == 0, "resample flipped");
    CHECK(out[0] == lut[0][0] && out[2 * S * S] == lut[2][255], "flip: the left pixel should be blue");
    CHECK(out[S - 1] == lut[0][255], "flip: the right pixel should be red");
    /* A crop of the left quarter only: all red (taps stay inside the crop). */
    tb_crop left = {8, 0, 16, 16, 1};
    tb_resample_rgb(jc, rgb, 64, 48, &left, S, 0, lut, out);
    int red = 1;
    for (int i = 0; i < S * S; i++)
        red &= out[i] == lut[0][255] && out[S * S + i] == lut[1][0];
    CHECK(red, "a crop of the red half is not all red");
    free(rgb);

    /* A flat grey JPEG decodes and normalises to (128/255 - mean) / std. */
    rgb = make_rgb(64, 48, 0);
    uint8_t *jpeg;
    size_t n;
    CHECK(tb_jpeg_encode(jc, rgb, 64, 48, 100, &jpeg, &n) == 0, "encode: %s", tb_last_error());
    tb_crop c;
    tb_center_params(48, 64, S, &c);
    CHECK(tb_jpeg_crop_resize(jc, jpeg, n, "grey", &c, S, 0, lut, out) == 0, "decode: %s", tb_last_error());
    int grey = 1;
    for (int ch = 0; ch < 3; ch++)
        for (int i = 0; i < S * S; i++)
            grey &= out[ch * S * S + i] >= lut[ch][127] && out[ch * S * S + i] <= lut[ch][129];
    CHECK(grey, "grey JPEG: got %g, want %g", out[0], lut[0][128]);
    CHECK_CLOSE(lut[0][128], (128 / 255.0 - 0.485) / 0.229, 1e-6, "normalisation constant");
    free(jpeg);
    free(rgb);

    /* Reduced DCT scale: a 1024x768 image's centre crop decodes at 3/8
     * size (768 * 3/8 * 224/256 >= 224 > 768 / 4 * 224/256) and matches the
     * full-size decode closely. */
    rgb = malloc(1024 * 768 * 3);
    for (int y = 0; y < 768; y++)
        for (int x = 0; x < 1024; x++)
            for (int k = 0; k < 3; k++)
                rgb[((size_t)y * 1024 + x) * 3 + k] = (uint8_t)(128 + 100 * ((x / 64 + y / 64 + k) % 2 ? 1 : -1) / 2);
    CHECK(tb_jpeg_encode(jc, rgb, 1024, 768, 95, &jpeg, &n) == 0, "encode big");
    tb_center_params(768, 1024, 224, &c);
    const uint8_t *dec;
    int dw, dh;
    double scale;
    CHECK(tb_jpeg_decode(jc, jpeg, n, "big", &c, 224, &dec, &dw, &dh, &scale) == 0, "decode big");
    CHECK(dw == 384 && dh == 288 && scale == 0.375, "DCT scale: decoded %dx%d (scale %g), want 384x288", dw, dh,
          scale);
    float *fast = malloc(sizeof *fast * 3 * 224 * 224), *full = malloc(sizeof *full * 3 * 224 * 224);
    tb_jpeg_crop_resize(jc, jpeg, n, "big", &c, 224, 0, lut, fast);
    tb_resample_rgb(jc, rgb, 1024, 768, &c, 224, 0, lut, full);
    double diff = 0;
    for (int i = 0; i < 3 * 224 * 224; i++)
        diff += fabs(fast[i] - full[i]);
    diff /= 3 * 224 * 224;
    CHECK(diff < 0.05, "reduced-scale decode differs from full size by %.4f on average (normalised units)", diff);
    /* A corrupt JPEG gets a message naming it. */
    CHECK(tb_jpeg_crop_resize(jc, jpeg, 600, "cut.jpg", &c, 224, 0, lut, fast) == 0 ||
              strstr(tb_last_error(), "cut.jpg"),
          "corrupt JPEG message: %s", tb_last_error());
    CHECK(tb_jpeg_crop_resize(jc, (const uint8_t *)"\xff\xd8xx", 4, "junk.jpg", &c, 224, 0, lut, fast) != 0 &&
              strstr(tb_last_error(), "junk.jpg: not a readable JPEG"),
          "junk JPEG: %s", tb_last_error());
    free(fast);
    free(full);
    free(jpeg);
    free(rgb);
    free(out);
    tb_jpeg_ctx_free(jc);
}

/* DIR/{train,val}/cK/ with JPEGs of varied sizes and content. */
static void make_folders(const char *dir)
{
    tb_jpeg_ctx *jc = tb_jpeg_ctx_new();
    tb_rng r;
    tb_rng_seed(&r, 11, 0, 0, 0);
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 3; k++) {
            char d[512];
            snprintf(d, sizeof d, "%s/%s/c%d", dir, s ? "val" : "train", k);
            tb_mkdir_p(d);
            for (int i = 0; i < (s ? 2 : 5); i++) {
                int w = 40 + (int)tb_rng_below(&r, 80), h = 40 + (int)tb_rng_below(&r, 80);
                uint8_t *rgb = malloc((size_t)w * h * 3);
                for (int p = 0; p < w * h * 3; p++)
                    rgb[p] = (uint8_t)(k * 80 + tb_rng_below(&r, 60) + (p / 3 % w) / 2);
                uint8_t *jpeg;
                size_t n;
                tb_jpeg_encode(jc, rgb, w, h, 90, &jpeg, &n);
                char path[600];
                snprintf(path, sizeof path, "%s/img%d.JPEG", d, i);
                tb_write_file(path, jpeg, n, 1);
                free(jpeg);
                free(rgb);
            }
        }
    tb_jpeg_ctx_free(jc);
}

/* All batches of two epochs, concatenated. */
static float *run_loader(const tb_dataset *ds, int workers, int augment, size_t *floats)
{
    tb_loader_config c;
    tb_loader_config_defaults(&c);
    c.batch_size = 4;
    c.num_workers = workers;
    c.seed = 5;
    c.augment = augment;
    c.out_size = 24;
    tb_loader *l = tb_loader_create(ds, &c);
    if (!l) {
        CHECK(0, "loader: %s", tb_last_error());
        return NULL;
    }
    size_t per = (size_t)ds->count * 3 * 24 * 24 + (size_t)ds->count;
    float *all = calloc(2 * per, sizeof *all);
    size_t used = 0;
    for (int e = 0; e < 2; e++) {
        tb_loader_start_epoch(l, e);
        tb_batch *b;
        int rc;
        while ((rc = tb_loader_next(l, &b)) > 0) {
            memcpy(all + used, b->x, sizeof *all * (size_t)b->n * 3 * 24 * 24);
            used += (size_t)b->n * 3 * 24 * 24;
            for (int k = 0; k < b->n; k++)
                all[used++] = (float)b->y[k];
            tb_loader_release(l, b);
        }
        CHECK(rc == 0, "loader epoch %d: %s", e, tb_last_error());
    }
    tb_loader_destroy(l);
    *floats = used;
    return all;
}

static void test_folders_and_packs(void)
{
    char dir[] = "/tmp/tb-jpeg-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    make_folders(dir);
    tb_dataset train, val;
    CHECK(tb_dataset_load("imagenet", dir, TB_SPLIT_TRAIN, 0, &train) == 0, "load folders: %s", tb_last_error());
    CHECK(tb_dataset_load("imagenet", dir, TB_SPLIT_TEST, 0, &val) == 0, "load val: %s", tb_last_error());
    CHECK(train.count == 15 && train.classes == 3 && val.count == 6 && train.images && !train.pixels,
          "folders: %d train, %d val, %d classes", train.count, val.count, train.classes);
    CHECK(train.labels[0] == 0 && train.labels[5] == 1 && train.labels[14] == 2 && val.labels[5] == 2,
          "labels follow the sorted class folders");
    CHECK(!strcmp(tb_imageset_class_name(train.images, 1), "c1"), "class names");
    CHECK_CLOSE(train.mean[0], 0.485, 1e-6, "imagenet mean");

    /* Same batches for 0, 1 and 3 workers, training and evaluation. */
    for (int aug = 0; aug < 2; aug++) {
        size_t n0, n1, n3;
        float *b0 = run_loader(&train, 0, aug, &n0), *b1 = run_loader(&train, 1, aug, &n1),
              *b3 = run_loader(&train, 3, aug, &n3);
        CHECK(b0 && b1 && b3 && n0 == n1 && n0 == n3 && !memcmp(b0, b1, n0 * 4) && !memcmp(b0, b3, n0 * 4),
              "augment %d: batches differ across worker counts", aug);
        /* Epochs differ under augmentation (new order and crops). */
        if (aug && b0)
            CHECK(memcmp(b0, b0 + n0 / 2, n0 / 2 * 4) != 0, "two epochs gave the same batches");

        /* Packed with no resizing: the same bytes, so the same batches. */
        if (aug == 0) {
            char pack[600];
            snprintf(pack, sizeof pack, "%s/set.tbpack", dir);
            tb_pack_options po = {.src = dir, .out = pack, .max_side = 0, .quality = 90, .threads = 2, .quiet = 1};
            CHECK(tb_pack_write(&po) == 0, "pack: %s", tb_last_error());
            tb_pack *p = tb_pack_open(pack);
            CHECK(p != NULL, "pack open: %s", tb_last_error());
            if (p) {
                const tb_pack_header *h = tb_pack_info(p);
                CHECK(h->count[0] == 15 && h->count[1] == 6 && h->classes == 3 && h->kind == TB_PACK_KIND_JPEG,
                      "pack header");
                const tb_pack_entry *e = tb_pack_index(p, TB_SPLIT_TRAIN);
                int same = 1, aligned = 1;
                for (int i = 0; i < 15; i++) {
                    uint8_t *buf = NULL;
                    size_t cap = 0, size;
                    const uint8_t *data;
                    char what[600];
                    tb_imageset_get(train.images, i, &buf, &cap, &data, &size, what, sizeof what);
                    same &= size == e[i].size && !memcmp(data, tb_pack_bytes(p, &e[i]), size) &&
                            e[i].label == train.labels[i];
                    aligned &= e[i].size > TB_PACK_PAGE ||
                               e[i].offset / TB_PACK_PAGE == (e[i].offset + e[i].size - 1) / TB_PACK_PAGE;
                    free(buf);
                }
                CHECK(same, "packed bytes or labels differ from the files");
                CHECK(aligned, "a small record straddles a page");
                CHECK(h->index_offset[0] % 4096 == 0 && h->data_offset == 4096, "index not page aligned");
                tb_pack_close(p);
            }
            char name[620];
            snprintf(name, sizeof name, "packed:%s", pack);
            tb_dataset pk;
            CHECK(tb_dataset_load(name, NULL, TB_SPLIT_TRAIN, 0, &pk) == 0, "load pack: %s", tb_last_error());
            size_t np;
            float *bp = run_loader(&pk, 2, 0, &np);
            CHECK(bp && np == n0 && !memcmp(bp, b0, n0 * 4), "packed batches differ from the folders'");
            free(bp);
            tb_dataset_free(&pk);

            /* Resized pack: every image's longer side at most 50. */
            po.max_side = 50;
            CHECK(tb_pack_write(&po) == 0, "pack resized: %s", tb_last_error());
            p = tb_pack_open(pack);
            int fits = p != NULL;
            for (int s = 0; p && s < 2; s++)
                for (uint64_t i = 0; i < tb_pack_info(p)->count[s]; i++) {
                    const tb_pack_entry *e = &tb_pack_index(p, s ? TB_SPLIT_TEST : TB_SPLIT_TRAIN)[i];
                    fits &= (e->width == 50 || e->height == 50) && e->width <= 50 && e->height <= 50;
                }
            CHECK(fits, "resized pack images exceed --max-side");
            tb_pack_close(p);
            /* A truncated pack is refused with a clear message. */
            struct stat st;
            stat(pack, &st);
            CHECK(truncate(pack, st.st_size - 100) == 0, "truncate");
            CHECK(tb_pack_open(pack) == NULL && strstr(tb_last_error(), "truncated"), "truncated pack: %s",
                  tb_last_error());
        }
        free(b0);
        free(b1);
        free(b3);
    }
    /* limit keeps an even spread over the classes. */
    tb_dataset few;
    CHECK(tb_dataset_load("imagenet", dir, TB_SPLIT_TRAIN, 3, &few) == 0, "limit");
    CHECK(few.count == 3 && few.labels[0] == 0 && few.labels[1] == 1 && few.labels[2] == 2, "limit spread: %d %d %d",
          few.labels[0], few.labels[1], few.labels[2]);
    tb_dataset_free(&few);
    tb_dataset_free(&train);
    tb_dataset_free(&val);

    /* Raw pack of an in-memory dataset: identical pixels and labels. */
    char raw[600];
    snprintf(raw, sizeof raw, "%s/syn.tbpack", dir);
    tb_pack_options ro = {.src = "synthetic", .out = raw, .quiet = 1};
    CHECK(tb_pack_write(&ro) == 0, "raw pack: %s", tb_last_error());
    tb_dataset a, b;
    char name[620];
    snprintf(name, sizeof name, "packed:%s", raw);
    CHECK(tb_dataset_load("synthetic", NULL, TB_SPLIT_TEST, 0, &a) == 0, "synthetic");
    CHECK(tb_dataset_load(name, NULL, TB_SPLIT_TEST, 0, &b) == 0, "raw pack load: %s", tb_last_error());
    CHECK(a.count == b.count && b.pixels && !memcmp(a.pixels, b.pixels, (size_t)a.count * 3072) &&
              !memcmp(a.labels, b.labels, sizeof *a.labels * a.count) && !strcmp(b.name, "synthetic") &&
              b.mean[0] == a.mean[0] && b.flip_ok == a.flip_ok,
          "raw pack round trip differs");
    tb_dataset_free(&a);
    tb_dataset_free(&b);
    tb_rm_rf(dir);
}

int main(void)
{
    init_lut();
    test_rrc();
    test_center();
    test_known_pixels();
    test_folders_and_packs();
    return check_finish();
}
