/* The data loader: same batches for any worker count, every image once per
 * epoch, disjoint shards, exact crops/flips/normalisation/padding, and clean
 * abandonment and teardown of epochs in flight. */
#include "core/error.h" // uses: tb_last_error
#include "datasets/dataset.h" // uses: tb_dataset, tb_dataset_synthetic, tb_dataset_free, tb_dataset_load, ...
#include "datasets/loader.h" // uses: tb_loader_config, tb_loader, tb_loader_create, tb_loader_height, ...
#include "tests/check.h" // uses: CHECK, CHECK_CLOSE, check_finish

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* A dataset built in memory: pixel(i, c, y, x) = f, label = its index, so a
 * batch's labels tell which images it holds. */
static void make_dataset(tb_dataset *ds, int count, int c, int h, int w, int flip_ok,
                         int (*f)(int i, int c, int y, int x))
{
    memset(ds, 0, sizeof *ds);
    strcpy(ds->name, "test");
    ds->count = ds->total = count;
    ds->channels = c;
    ds->height = h;
    ds->width = w;
    ds->classes = count;
    ds->flip_ok = flip_ok;
    ds->pixels = malloc((size_t)count * c * h * w);
    ds->labels = malloc(sizeof *ds->labels * count);
    for (int i = 0; i < count; i++) {
        ds->labels[i] = i;
        for (int k = 0; k < c * h * w; k++)
            ds->pixels[((size_t)i * c * h + k / w) * w + k % w] = (uint8_t)f(i, k / (h * w), k / w % h, k % w);
    }
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2470f, 0.2435f, 0.2616f};
    memcpy(ds->mean, mean, sizeof mean);
    memcpy(ds->std, std, sizeof std);
}

static int by_index(int i, int c, int y, int x) { return (i + c + y + x) & 0xff; }
/* Not mirror symmetric and never 0, so a crop's offset and flip show. */
static int pattern(int i, int c, int y, int x) { return (void)i, 1 + (c * 71 + y * 29 + x * 7) % 251; }

typedef struct {
    float *x;
    int32_t *y;
    int *n; /* images of each batch */
    int images, batches;
} run;

static void run_free(run *r)
{
    free(r->x);
    free(r->y);
    free(r->n);
}

/* Every batch of epochs [first, first + epochs), concatenated. */
static run collect(const tb_dataset *ds, const tb_loader_config *cfg, int first, int epochs)
{
    run r = {0};
    tb_loader *l = tb_loader_create(ds, cfg);
    CHECK(l != NULL, "create: %s", tb_last_error());
    if (!l)
        return r;
    size_t image = (size_t)ds->channels * tb_loader_height(l) * tb_loader_width(l);
    int per_epoch = tb_loader_batches_per_epoch(l), cap = per_epoch * cfg->batch_size * epochs;
    r.x = malloc(sizeof *r.x * image * cap);
    r.y = malloc(sizeof *r.y * cap);
    r.n = malloc(sizeof *r.n * per_epoch * epochs);
    for (int e = first; e < first + epochs; e++) {
        CHECK(tb_loader_start_epoch(l, e) == 0, "start: %s", tb_last_error());
        tb_batch *b;
        int rc, i = 0;
        while ((rc = tb_loader_next(l, &b)) == 1) {
            CHECK(b->index == i && b->n <= cfg->batch_size && r.images + b->n <= cap, "batch %d of %d images",
                  b->index, b->n);
            memcpy(r.x + image * r.images, b->x, sizeof *r.x * image * b->n);
            memcpy(r.y + r.images, b->y, sizeof *r.y * b->n);
            r.n[r.batches++] = b->n;
            r.images += b->n;
            tb_loader_release(l, b);
            i++;
        }
        CHECK(rc == 0 && i == per_epoch, "epoch %d ended with %d after %d of %d batches: %s", e, rc, i, per_epoch,
              rc ? tb_last_error() : "");
    }
    tb_loader_destroy(l);
    return r;
}

static void check_same(const run *a, const run *b, size_t image, const char *what)
{
    CHECK(a->images == b->images && a->batches == b->batches, "%s: %d vs %d images", what, a->images, b->images);
    if (a->images != b->images || a->batches != b->batches)
        return;
    CHECK(memcmp(a->n, b->n, sizeof *a->n * a->batches) == 0, "%s: batch sizes differ", what);
    CHECK(memcmp(a->y, b->y, sizeof *a->y * a->images) == 0, "%s: labels differ", what);
    CHECK(memcmp(a->x, b->x, sizeof *a->x * image * a->images) == 0, "%s: images differ", what);
}

static void check_workers_agree(const tb_dataset *ds, tb_loader_config cfg, const char *what)
{
    size_t image = (size_t)ds->channels * (cfg.out_size > ds->height ? cfg.out_size : ds->height) *
                   (cfg.out_size > ds->width ? cfg.out_size : ds->width);
    cfg.num_workers = 0;
    run ref = collect(ds, &cfg, 0, 2);
    const int workers[] = {1, 4};
    for (int i = 0; i < 2; i++) {
        cfg.num_workers = workers[i];
        cfg.prefetch = i + 1;
        run r = collect(ds, &cfg, 0, 2);
        char name[128];
        snprintf(name, sizeof name, "%s, %d workers", what, workers[i]);
        check_same(&ref, &r, image, name);
        run_free(&r);
    }
    run_free(&ref);
}

static void test_determinism(void)
{
    tb_dataset syn;
    CHECK(tb_dataset_synthetic(1000, 10, 3, &syn) == 0, "%s", tb_last_error());
    tb_loader_config cfg;
    tb_loader_config_defaults(&cfg);
    cfg.batch_size = 64;
    cfg.seed = 11;
    cfg.augment = 1;
    check_workers_agree(&syn, cfg, "synthetic");
    tb_dataset_free(&syn);

    struct stat st;
    if (stat(FMNIST_DIR "/train-images-idx3-ubyte.gz", &st) != 0) {
        printf("skipping the Fashion-MNIST loader checks: %s is not installed\n", FMNIST_DIR);
        return;
    }
    tb_dataset fm;
    CHECK(tb_dataset_load("fashion-mnist", FMNIST_DIR, TB_SPLIT_TRAIN, 3000, &fm) == 0, "%s", tb_last_error());
    cfg.batch_size = 128;
    cfg.out_size = 32;
    check_workers_agree(&fm, cfg, "fashion-mnist");
    tb_dataset_free(&fm);
}

/* Counts how often each image appears in a run. */
static void histogram(const run *r, int *hist, int count)
{
    memset(hist, 0, sizeof *hist * count);
    for (int i = 0; i < r->images; i++)
        if (r->y[i] >= 0 && r->y[i] < count)
            hist[r->y[i]]++;
}

static void test_epochs(void)
{
    enum { N = 103 };
    tb_dataset ds;
    make_dataset(&ds, N, 1, 4, 4, 1, by_index);
    tb_loader_config cfg;
    tb_loader_config_defaults(&cfg);
    cfg.batch_size = 10;
    cfg.seed = 5;
    int hist[N];

    run r = collect(&ds, &cfg, 0, 2);
    CHECK(r.batches == 22 && r.n[10] == 3 && r.n[21] == 3 && r.n[0] == 10, "%d batches, last of %d", r.batches,
          r.n[10]);
    for (int e = 0; e < 2 && r.images == 2 * N; e++) {
        run one = {.y = r.y + e * N, .images = N};
        histogram(&one, hist, N);
        int once = 1;
        for (int i = 0; i < N; i++)
            once &= hist[i] == 1;
        CHECK(once, "epoch %d does not hold every image exactly once", e);
    }
    CHECK(r.images == 2 * N && memcmp(r.y, r.y + N, sizeof *r.y * N) != 0, "epochs 0 and 1 in the same order");
    run later = collect(&ds, &cfg, 1, 1);
    CHECK(r.images == 2 * N && later.images == N && memcmp(r.y + N, later.y, sizeof *r.y * N) == 0,
          "epoch 1 depends on what ran before it");
    run_free(&later);

    cfg.drop_last = 1;
    run d = collect(&ds, &cfg, 0, 1);
    histogram(&d, hist, N);
    int max = 0;
    for (int i = 0; i < N; i++)
        max = hist[i] > max ? hist[i] : max;
    CHECK(d.batches == 10 && d.images == 100 && max == 1, "drop_last: %d batches, %d images", d.batches, d.images);
    CHECK(memcmp(d.y, r.y, sizeof *d.y * 100) == 0, "drop_last changes the order");
    run_free(&d);

    cfg.shuffle = 0;
    run plain = collect(&ds, &cfg, 0, 1);
    CHECK(plain.images == 100 && plain.y[0] == 0 && plain.y[99] == 99, "no shuffle is not in order");
    run_free(&plain);
    run_free(&r);
    tb_dataset_free(&ds);
}

static void test_shards(void)
{
    tb_dataset ds;
    tb_loader_config cfg;
    tb_loader_config_defaults(&cfg);
    cfg.batch_size = 3;
    cfg.seed = 9;
    cfg.num_workers = 2;
    const int sizes[] = {104, 103, 103};
    for (int t = 0; t < 3; t++) {
        const int N = sizes[t];
        make_dataset(&ds, N, 1, 4, 4, 1, by_index);
        cfg.drop_last = 0;
        cfg.shard_count = 1;
        cfg.shard_rank = 0;
        run whole = collect(&ds, &cfg, 3, 1);
        int hist[104] = {0}, h[104];
        cfg.drop_last = t == 2;
        cfg.shard_count = 2;
        int images = -1;
        for (int rank = 0; rank < 2; rank++) {
            cfg.shard_rank = rank;
            run part = collect(&ds, &cfg, 3, 1);
            CHECK(images < 0 || part.images == images, "ranks get %d and %d images", images, part.images);
            images = part.images;
            histogram(&part, h, N);
            for (int i = 0; i < N; i++)
                hist[i] += h[i];
            /* Rank r holds positions r, r + 2, ... of the one-rank order. */
            int ok = 1;
            for (int k = 0; k < part.images; k++)
                ok &= part.y[k] == whole.y[(2 * k + rank) % N];
            CHECK(ok && whole.images == N, "N=%d rank %d is not every other image of the order", N,
                  rank);
            run_free(&part);
        }
        int twice = 0, missing = 0;
        for (int i = 0; i < N; i++) {
            twice += hist[i] > 1;
            missing += hist[i] == 0;
        }
        /* 104: disjoint halves; 103: padded by one repeat; drop_last: one cut. */
        CHECK(twice == (t == 1) && missing == (t == 2) && images == (t == 2 ? 51 : 52),
              "N=%d drop_last=%d: %d repeated, %d missing, %d per rank", N, cfg.drop_last, twice, missing, images);
        run_free(&whole);
        tb_dataset_free(&ds);
    }
}

/* Finds the shift and flip that turn image `src` into the normalised output
 * `out`, as RandomCrop(padding=4) + flip would; returns 0 when none fits. */
static int find_crop(const tb_dataset *ds, const uint8_t *src, const float *out, int S, int *dy, int *dx, int *flip)
{
    const int C = ds->channels, h = ds->height, w = ds->width, py = (S - h) / 2, px = (S - w) / 2;
    for (*flip = 0; *flip < 2; ++*flip)
        for (*dy = -4; *dy <= 4; ++*dy)
            for (*dx = -4; *dx <= 4; ++*dx) {
                int ok = 1;
                for (int c = 0; ok && c < C; c++)
                    for (int y = 0; ok && y < S; y++)
                        for (int x = 0; ok && x < S; x++) {
                            int sy = y + *dy - py, sx = (*flip ? S - 1 - x : x) + *dx - px;
                            int v = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[(c * h + sy) * w + sx] : 0;
                            double want = (v / 255.0 - ds->mean[c]) / ds->std[c];
                            ok = fabs(out[(c * S + y) * S + x] - want) <= 1e-6;
                        }
                if (ok)
                    return 1;
            }
    return 0;
}

/* Checks every image of two augmented epochs of copies of one image. */
static void check_crops(const tb_dataset *ds, int out_size, int augment, const char *what)
{
    tb_loader_config cfg;
    tb_loader_config_defaults(&cfg);
    cfg.batch_size = 50;
    cfg.augment = augment;
    cfg.out_size = out_size;
    cfg.num_workers = 2;
    run r = collect(ds, &cfg, 0, 2);
    const int S = out_size > ds->height ? out_size : ds->height;
    int seen[2][9][9] = {{{0}}}, bad = 0, combos = 0, flips = 0, edges = 0;
    for (int i = 0; i < r.images; i++) {
        int dy, dx, flip;
        if (!find_crop(ds, ds->pixels, r.x + (size_t)i * ds->channels * S * S, S, &dy, &dx, &flip)) {
            bad++;
            continue;
        }
        combos += !seen[flip][dy + 4][dx + 4]++;
        flips += flip;
        edges |= (dy == -4) | (dy == 4) << 1 | (dx == -4) << 2 | (dx == 4) << 3;
        CHECK(augment || (dy == 0 && dx == 0 && !flip), "%s: unaugmented image shifted", what);
    }
    CHECK(r.images == 2 * ds->count && bad == 0, "%s: %d of %d images are no crop of the padded image", what, bad,
          r.images);
    if (augment)
        CHECK(combos > (ds->flip_ok ? 100 : 60) && (ds->flip_ok ? flips > r.images / 3 : flips == 0) &&
                  edges == 15,
              "%s: %d crops seen, extreme shifts %#x of 0xf, %d flips in %d", what, combos, edges, flips, r.images);
    run_free(&r);
}

static void test_augment(void)
{
    tb_dataset ds;
    make_dataset(&ds, 200, 3, 32, 32, 1, pattern);
    check_crops(&ds, 32, 0, "cifar-like, no augmentation");
    check_crops(&ds, 0, 1, "cifar-like");
    ds.flip_ok = 0;
    check_crops(&ds, 0, 1, "no flips");
    tb_dataset_free(&ds);

    make_dataset(&ds, 200, 1, 28, 28, 0, pattern);
    ds.mean[0] = 0.1307f;
    ds.std[0] = 0.3081f;
    check_crops(&ds, 32, 0, "28 -> 32");
    check_crops(&ds, 32, 1, "28 -> 32 augmented");

    /* The border explicitly: two zero pixels each side, normalised. */
    tb_loader_config cfg;
    tb_loader_config_defaults(&cfg);
    cfg.out_size = 32;
    cfg.batch_size = 4;
    tb_loader *l = tb_loader_create(&ds, &cfg);
    tb_batch *b = NULL;
    CHECK(l && tb_loader_height(l) == 32 && tb_loader_width(l) == 32, "padded geometry");
    if (l && tb_loader_start_epoch(l, 0) == 0 && tb_loader_next(l, &b) == 1) {
        const float zero = (0 - 0.1307f) / 0.3081f;
        int border = 1;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                if (y < 2 || y >= 30 || x < 2 || x >= 30)
                    border &= fabs(b->x[y * 32 + x] - zero) <= 1e-6;
        CHECK(border, "28 -> 32 border is not normalised zero");
        CHECK_CLOSE(b->x[2 * 32 + 2], (pattern(0, 0, 0, 0) / 255.0 - 0.1307) / 0.3081, 1e-6, "first pixel");
        tb_loader_release(l, b);
    }
    tb_loader_destroy(l);
    tb_dataset_free(&ds);
}

/* Images smaller than 32 stay their size when out_size says so (the trainer
 * passes --image-size: synthetic data at 8..31, or 28x28 MNIST at 28): no
 * padding, exact crops, every pixel the image's own. */
static void test_small_sizes(void)
{
    tb_dataset ds;
    make_dataset(&ds, 200, 3, 16, 16, 1, pattern);
    check_crops(&ds, 16, 0, "16 at 16");
    check_crops(&ds, 16, 1, "16 at 16 augmented");
    tb_loader_config cfg;
    tb_loader_config_defaults(&cfg);
    cfg.out_size = 16;
    cfg.batch_size = 8;
    tb_loader *l = tb_loader_create(&ds, &cfg);
    tb_batch *b = NULL;
    CHECK(l && tb_loader_height(l) == 16 && tb_loader_width(l) == 16, "16x16 stays 16x16");
    if (l && tb_loader_start_epoch(l, 0) == 0 && tb_loader_next(l, &b) == 1) {
        CHECK(b->height == 16 && b->width == 16, "batch geometry %dx%d", b->height, b->width);
        CHECK_CLOSE(b->x[0], (pattern(0, 0, 0, 0) / 255.0 - ds.mean[0]) / ds.std[0], 1e-6, "pixel (0, 0), unpadded");
        tb_loader_release(l, b);
    }
    tb_loader_destroy(l);
    cfg.out_size = 32; /* and padded when asked, as before */
    l = tb_loader_create(&ds, &cfg);
    CHECK(l && tb_loader_height(l) == 32, "16x16 padded to 32");
    tb_loader_destroy(l);
    tb_dataset_free(&ds);

    make_dataset(&ds, 200, 1, 28, 28, 0, pattern);
    check_crops(&ds, 28, 0, "28 at 28");
    tb_dataset_free(&ds);
}

static void test_lifecycle(void)
{
    tb_dataset ds;
    CHECK(tb_dataset_synthetic(1000, 10, 1, &ds) == 0, "%s", tb_last_error());
    tb_loader_config cfg;
    tb_loader_config_defaults(&cfg);
    cfg.batch_size = 50;
    cfg.augment = 1;
    cfg.seed = 77;
    run ref = collect(&ds, &cfg, 1, 1);
    size_t image = 3 * 32 * 32;

    /* Abandon epoch 0 after three batches; epoch 1 must come out whole. */
    cfg.num_workers = 4;
    tb_loader *l = tb_loader_create(&ds, &cfg);
    tb_batch *b = NULL, *b2 = NULL;
    CHECK(l && tb_loader_next(l, &b) < 0 && b == NULL, "next before any epoch succeeded");
    CHECK(tb_loader_start_epoch(l, 0) == 0, "%s", tb_last_error());
    for (int i = 0; i < 3 && tb_loader_next(l, &b) == 1; i++)
        tb_loader_release(l, b);
    CHECK(tb_loader_next(l, &b) == 1, "%s", tb_last_error());
    CHECK(tb_loader_start_epoch(l, 1) < 0 && strstr(tb_last_error(), "held"), "restart with a batch held");
    tb_loader_release(l, b);
    CHECK(tb_loader_start_epoch(l, 1) == 0, "%s", tb_last_error());
    int images = 0, same = 1, rc;
    while ((rc = tb_loader_next(l, &b)) == 1) {
        same &= images + b->n <= ref.images &&
                memcmp(b->x, ref.x + image * images, sizeof(float) * image * b->n) == 0 &&
                memcmp(b->y, ref.y + images, sizeof(int32_t) * b->n) == 0;
        images += b->n;
        tb_loader_release(l, b);
    }
    CHECK(rc == 0 && same && images == ref.images, "epoch 1 after an abandoned epoch 0 differs");

    /* make_batch by hand gives the same batch. */
    tb_batch mine = {.x = malloc(sizeof(float) * image * 50), .y = malloc(sizeof(int32_t) * 50)};
    CHECK(tb_loader_make_batch(l, 1, 2, &mine) == 0 && mine.n == 50 && mine.index == 2 &&
              memcmp(mine.x, ref.x + image * 100, sizeof(float) * image * 50) == 0,
          "make_batch differs from the loader");
    CHECK(tb_loader_make_batch(l, 0, 2, &mine) < 0, "make_batch of an epoch not started");
    free(mine.x);
    free(mine.y);

    /* Destroy mid-epoch, with workers busy and a batch held. */
    CHECK(tb_loader_start_epoch(l, 2) == 0 && tb_loader_next(l, &b) == 1, "%s", tb_last_error());
    tb_loader_destroy(l);
    l = tb_loader_create(&ds, &cfg);
    tb_loader_destroy(l); /* never started */
    l = tb_loader_create(&ds, &cfg);
    CHECK(l && tb_loader_start_epoch(l, 0) == 0, "%s", tb_last_error());
    tb_loader_destroy(l); /* started, nothing taken */

    /* Holding more batches than there are buffers fails instead of hanging. */
    cfg.num_workers = 1;
    cfg.prefetch = 2;
    l = tb_loader_create(&ds, &cfg);
    CHECK(l && tb_loader_start_epoch(l, 0) == 0 && tb_loader_next(l, &b) == 1 && tb_loader_next(l, &b2) == 1,
          "%s", tb_last_error());
    CHECK(b && b2 && b->index == 0 && b2->index == 1 && b->x != b2->x, "two held batches share memory");
    tb_batch *b3 = NULL;
    CHECK(tb_loader_next(l, &b3) < 0 && b3 == NULL, "a third held batch with two buffers");
    tb_loader_release(l, b);
    CHECK(tb_loader_next(l, &b3) == 1 && b3->index == 2, "after a release: %s", tb_last_error());
    tb_loader_destroy(l);
    cfg.num_workers = 0;
    l = tb_loader_create(&ds, &cfg);
    CHECK(l && tb_loader_start_epoch(l, 0) == 0 && tb_loader_next(l, &b) == 1 && tb_loader_next(l, &b2) < 0,
          "num_workers 0 handed out two batches at once");
    tb_loader_destroy(l);

    /* Bad configurations fail with a message. */
    cfg.batch_size = 0;
    CHECK(tb_loader_create(&ds, &cfg) == NULL && strstr(tb_last_error(), "batch"), "batch size 0 accepted");
    cfg.batch_size = 2000;
    cfg.drop_last = 1;
    CHECK(tb_loader_create(&ds, &cfg) == NULL && strstr(tb_last_error(), "drop-last"), "no whole batch accepted");
    cfg.drop_last = 0;
    cfg.shard_rank = 2;
    cfg.shard_count = 2;
    CHECK(tb_loader_create(&ds, &cfg) == NULL && strstr(tb_last_error(), "shard"), "rank 2 of 2 accepted");
    run_free(&ref);
    tb_dataset_free(&ds);
}

int main(void)
{
    test_determinism();
    test_epochs();
    test_shards();
    test_augment();
    test_small_sizes();
    test_lifecycle();
    return check_finish();
}
