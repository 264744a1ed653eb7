/* `trainbench data pack`: writes a packed dataset file (docs/packed-format.md).
 *
 * JPEG sources (class folders) are re-encoded only when their longer side
 * exceeds --max-side (decoded at a reduced DCT scale first when possible,
 * then resized); smaller ones are copied byte for byte, so there is no
 * generation loss.  Small in-memory datasets (CIFAR, IDX) are stored as raw
 * CHW pixels.  Workers process a chunk of images at once; the main thread
 * writes them in order, so the file is identical for any thread count. */
#include "datasets/pack.h"
#include "core/error.h" // uses: tb_fail, tb_last_error, tb_fail_prefix, tb_calloc
#include "core/fsutil.h" // uses: tb_is_dir, tb_atomic_file, tb_atomic_begin, tb_atomic_stream, tb_atomic_commit, ...
#include "datasets/dataset.h" // uses: tb_dataset, tb_dataset_known, tb_dataset_names, tb_split, TB_SPLIT_TEST, ...
#include "datasets/imageset.h" // uses: tb_pack_entry, TB_PACK_PAGE, tb_imageset, tb_imageset_get, ...
#include "datasets/jpeg.h" // uses: tb_jpeg_ctx, tb_jpeg_size, tb_crop, tb_jpeg_decode, tb_resize_rgb, ...

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 64 /* images per worker per round */

typedef struct {
    FILE *f;
    const char *path;
    uint64_t pos;
} writer;

static int put(writer *w, const void *data, size_t n)
{
    if (n && fwrite(data, 1, n, w->f) != n)
        return tb_fail("cannot write %s: %s%s", w->path, strerror(errno),
                       errno == ENOSPC ? " (the disk is full)" : "");
    w->pos += n;
    return 0;
}

static int pad_to(writer *w, uint64_t to)
{
    static const uint8_t zeros[4096];
    while (w->pos < to) {
        size_t n = to - w->pos < sizeof zeros ? (size_t)(to - w->pos) : sizeof zeros;
        if (put(w, zeros, n))
            return -1;
    }
    return 0;
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* Places one record.  A JPEG record that fits in an OS page never straddles
 * one (one page fault per read); larger ones follow on without padding, so
 * they touch at most one page more than the minimum and the file stays the
 * size of its JPEGs (aligning each ~100 kB JPEG to a 64 kB page wasted 40%).
 * Raw records are loaded whole into memory and are simply contiguous. */
static int put_record(writer *w, const void *data, size_t n, tb_pack_entry *e, int align)
{
    uint64_t in_page = w->pos % TB_PACK_PAGE;
    if (align && n <= TB_PACK_PAGE && in_page + n > TB_PACK_PAGE)
        if (pad_to(w, round_up(w->pos, TB_PACK_PAGE)))
            return -1;
    e->offset = w->pos;
    e->size = (uint32_t)n;
    return put(w, data, n);
}

/* ---- JPEG sources ------------------------------------------------------ */

typedef struct {
    uint8_t *data; /* malloc'd record, or NULL when skipped */
    size_t size;
    int w, h, corrupt;
} result;

typedef struct {
    const tb_pack_options *o;
    const tb_imageset *set;
    int first, n; /* the chunk */
    result *res;
    int next;     /* next image of the chunk to take (under mu) */
    pthread_mutex_t mu;
    int failed;
    char error[1024];
} chunk;

static int process(const tb_pack_options *o, tb_jpeg_ctx *jc, const tb_imageset *set, int i, uint8_t **buf,
                   size_t *cap, result *r)
{
    const uint8_t *data;
    size_t size;
    char what[4200];
    if (tb_imageset_get(set, i, buf, cap, &data, &size, what, sizeof what))
        return -1;
    int w, h;
    if (tb_jpeg_size(jc, data, size, what, &w, &h)) {
        fprintf(stderr, "  warning: %s; skipped\n", tb_last_error());
        r->corrupt = 1;
        return 0;
    }
    int longer = w > h ? w : h;
    if (o->max_side <= 0 || longer <= o->max_side) {
        r->data = malloc(size ? size : 1);
        if (!r->data)
            return tb_fail("out of memory packing %s", what);
        memcpy(r->data, data, size);
        r->size = size;
        r->w = w;
        r->h = h;
        return 0;
    }
    int nw = (int)((long long)w * o->max_side / longer), nh = (int)((long long)h * o->max_side / longer);
    nw = nw < 1 ? 1 : nw;
    nh = nh < 1 ? 1 : nh;
    /* A square crop of the longer side makes the decoder pick the smallest
     * DCT scale that still leaves max_side pixels along the longer side. */
    tb_crop all = {0, 0, longer, longer, 1};
    const uint8_t *rgb;
    int dw, dh;
    double s;
    if (tb_jpeg_decode(jc, data, size, what, &all, o->max_side, &rgb, &dw, &dh, &s)) {
        fprintf(stderr, "  warning: %s; skipped\n", tb_last_error());
        r->corrupt = 1;
        return 0;
    }
    uint8_t *small;
    if (tb_resize_rgb(rgb, dw, dh, nw, nh, &small))
        return tb_fail_prefix("%s", what);
    int rc = tb_jpeg_encode(jc, small, nw, nh, o->quality, &r->data, &r->size);
    free(small);
    r->w = nw;
    r->h = nh;
    return rc ? tb_fail_prefix("%s", what) : 0;
}

static void *worker(void *arg)
{
    chunk *c = arg;
    tb_jpeg_ctx *jc = tb_jpeg_ctx_new();
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        int k = c->failed || !jc ? c->n : c->next++;
        if (!jc && !c->failed) {
            c->failed = 1;
            snprintf(c->error, sizeof c->error, "%s", tb_last_error());
        }
        pthread_mutex_unlock(&c->mu);
        if (k >= c->n)
            break;
        if (process(c->o, jc, c->set, c->first + k, &buf, &cap, &c->res[k])) {
            pthread_mutex_lock(&c->mu);
            if (!c->failed)
                snprintf(c->error, sizeof c->error, "%s", tb_last_error());
            c->failed = 1;
            pthread_mutex_unlock(&c->mu);
        }
    }
    free(buf);
    tb_jpeg_ctx_free(jc);
    return NULL;
}

static int pack_jpeg_split(const tb_pack_options *o, writer *w, const tb_dataset *ds, const char *split,
                           tb_pack_entry **index, uint64_t *count, long *corrupt)
{
    const int n = ds->count;
    int threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    const int per_round = CHUNK * threads;
    tb_pack_entry *idx = tb_calloc((size_t)n, sizeof *idx, "pack index");
    result *res = tb_calloc((size_t)per_round, sizeof *res, "pack results");
    pthread_t *th = tb_calloc((size_t)threads, sizeof *th, "pack threads");
    int rc = idx && res && th ? 0 : -1;
    uint64_t kept = 0;
    for (int first = 0; !rc && first < n; first += per_round) {
        chunk c = {.o = o, .set = ds->images, .first = first, .n = n - first < per_round ? n - first : per_round,
                   .res = res};
        pthread_mutex_init(&c.mu, NULL);
        memset(res, 0, sizeof *res * (size_t)c.n);
        int started = 0;
        for (; started < threads; started++)
            if (pthread_create(&th[started], NULL, worker, &c) != 0)
                break;
        if (started == 0)
            worker(&c);
        for (int t = 0; t < started; t++)
            pthread_join(th[t], NULL);
        pthread_mutex_destroy(&c.mu);
        if (c.failed)
            rc = tb_fail("%s", c.error);
        for (int k = 0; k < c.n; k++) {
            if (!rc && res[k].data) {
                tb_pack_entry *e = &idx[kept];
                e->label = ds->labels[first + k];
                e->width = (uint16_t)res[k].w;
                e->height = (uint16_t)res[k].h;
                if (put_record(w, res[k].data, res[k].size, e, 1))
                    rc = -1;
                else
                    kept++;
            }
            *corrupt += res[k].corrupt;
            free(res[k].data);
        }
        if (!o->quiet)
            fprintf(stderr, "%s  %s: %d/%d images%s", isatty(2) ? "\r" : "", split, first + c.n, n,
                    isatty(2) && first + c.n < n ? "" : "\n");
    }
    free(res);
    free(th);
    if (rc) {
        free(idx);
        return -1;
    }
    *index = idx;
    *count = kept;
    return 0;
}

/* ---- raw sources ------------------------------------------------------- */

static int pack_raw_split(writer *w, const tb_dataset *ds, tb_pack_entry **index, uint64_t *count)
{
    const size_t image = (size_t)ds->channels * ds->height * ds->width;
    tb_pack_entry *idx = tb_calloc((size_t)ds->count, sizeof *idx, "pack index");
    if (!idx)
        return -1;
    for (int i = 0; i < ds->count; i++) {
        idx[i].label = ds->labels[i];
        idx[i].width = (uint16_t)ds->width;
        idx[i].height = (uint16_t)ds->height;
        if (put_record(w, ds->pixels + image * i, image, &idx[i], 0)) {
            free(idx);
            return -1;
        }
    }
    *index = idx;
    *count = (uint64_t)ds->count;
    return 0;
}

int tb_pack_write(const tb_pack_options *o)
{
    char train_dir[4200];
    snprintf(train_dir, sizeof train_dir, "%s/train", o->src);
    const int folders = tb_is_dir(train_dir);
    if (!folders && !tb_dataset_known(o->src))
        return tb_fail("pack source %s: neither a folder with train/ and val/ class folders nor a dataset name (%s)",
                       o->src, tb_dataset_names());
    tb_dataset ds[2];
    memset(ds, 0, sizeof ds);
    for (int s = 0; s < 2; s++) {
        tb_split split = s ? TB_SPLIT_TEST : TB_SPLIT_TRAIN;
        int rc = folders ? tb_imageset_load_folders(o->src, split, 0, &ds[s])
                         : tb_dataset_load(o->src, o->data_dir, split, 0, &ds[s]);
        if (rc) {
            tb_dataset_free(&ds[0]);
            return -1;
        }
        if (!folders && ds[s].images) {
            tb_dataset_free(&ds[0]);
            tb_dataset_free(&ds[1]);
            return tb_fail("pack source %s: pack its class folders instead (pass the folder)", o->src);
        }
    }
    tb_pack_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, TB_PACK_MAGIC, 8);
    h.version = TB_PACK_VERSION;
    h.kind = folders ? TB_PACK_KIND_JPEG : TB_PACK_KIND_RAW;
    h.classes = (uint32_t)ds[0].classes;
    h.channels = (uint32_t)ds[0].channels;
    h.height = folders ? 0 : (uint32_t)ds[0].height;
    h.width = folders ? 0 : (uint32_t)ds[0].width;
    h.page_size = TB_PACK_PAGE;
    if (folders) {
        static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        memcpy(h.mean, mean, sizeof mean);
        memcpy(h.std, std, sizeof std);
        h.flip_ok = 1;
        snprintf(h.name, sizeof h.name, "imagenet");
        h.max_side = (uint32_t)o->max_side;
        h.quality = (uint32_t)o->quality;
    } else {
        memcpy(h.mean, ds[0].mean, sizeof h.mean);
        memcpy(h.std, ds[0].std, sizeof h.std);
        h.flip_ok = (uint32_t)ds[0].flip_ok;
        snprintf(h.name, sizeof h.name, "%s", ds[0].name);
    }
    /* core/fsutil's atomic writer: an unpredictable O_EXCL temporary next to
     * the output (never a planted link), removed on any failure; an output
     * that is a link, FIFO or device is refused. */
    tb_atomic_file out;
    FILE *f = tb_atomic_begin(&out, o->out) ? NULL : tb_atomic_stream(&out);
    if (!f) {
        tb_dataset_free(&ds[0]);
        tb_dataset_free(&ds[1]);
        return -1;
    }
    writer w = {f, o->out, 0};
    tb_pack_entry *idx[2] = {NULL, NULL};
    long corrupt = 0;
    int rc = pad_to(&w, TB_PACK_HEADER);
    h.data_offset = TB_PACK_HEADER;
    for (int s = 0; !rc && s < 2; s++)
        rc = folders ? pack_jpeg_split(o, &w, &ds[s], s ? "val" : "train", &idx[s], &h.count[s], &corrupt)
                     : pack_raw_split(&w, &ds[s], &idx[s], &h.count[s]);
    h.data_size = w.pos - h.data_offset;
    for (int s = 0; !rc && s < 2; s++) {
        rc = pad_to(&w, round_up(w.pos, TB_PACK_HEADER));
        h.index_offset[s] = w.pos;
        if (!rc)
            rc = put(&w, idx[s], sizeof(tb_pack_entry) * h.count[s]);
    }
    h.file_size = w.pos;
    if (!rc && (fseeko(w.f, 0, SEEK_SET) != 0 || fwrite(&h, sizeof h, 1, w.f) != 1))
        rc = tb_fail("cannot write the header of %s: %s", o->out, strerror(errno));
    if (!rc)
        rc = tb_atomic_commit(&out);
    else
        tb_atomic_abort(&out);
    if (!rc && !o->quiet)
        printf("wrote %s: %s, %llu train + %llu test images, %d classes, %.1f MB%s\n", o->out,
               folders ? "JPEG" : "raw pixels", (unsigned long long)h.count[0], (unsigned long long)h.count[1],
               (int)h.classes, (double)h.file_size / 1e6, corrupt ? "" : "");
    if (!rc && corrupt)
        printf("skipped %ld unreadable JPEGs\n", corrupt);
    free(idx[0]);
    free(idx[1]);
    tb_dataset_free(&ds[0]);
    tb_dataset_free(&ds[1]);
    return rc;
}
