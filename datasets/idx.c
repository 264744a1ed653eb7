/* IDX files (MNIST, Fashion-MNIST), plain or gzipped: zlib's gzread reads
 * both.  A file must hold exactly what its header declares, so a partial
 * download or an appended file is caught even when `limit` keeps a few. */
#include "core/error.h" // uses: tb_fail, tb_fail_prefix, tb_malloc
#include "core/fsutil.h" // uses: tb_open_regular
#include "datasets/dataset.h" // uses: tb_idx_read_images, tb_dataset, tb_idx_read_labels

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_LABELS_MAGIC 0x00000801u /* unsigned bytes, 1 dimension */
#define IDX_MAX_SIDE 4096
#define IDX_CLASSES 10

static const char refetch[] = "the file is damaged or incomplete; download it again";

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads up to n bytes; returns how many, or -1 after tb_fail on a zlib error
 * other than a stream cut short (which the size checks report better).
 * Modest chunks: when a gzip stream ends early zlib drops what the failing
 * call had decompressed, and the byte count in our message should be right. */
static long long gz_read_some(gzFile f, const char *path, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 16) ? 1u << 16 : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r <= 0) {
            int err;
            const char *msg = gzerror(f, &err);
            if (r < 0 && err != Z_BUF_ERROR)
                return tb_fail("dataset file %s: cannot read: %s; %s", path, msg, refetch);
            break;
        }
        got += (size_t)r;
    }
    return (long long)got;
}

/* Opens an IDX file and reads its header: magic, then `ndims` sizes. */
static gzFile idx_open(const char *path, uint32_t magic, int ndims, uint32_t *dims)
{
    int fd = tb_open_regular(path, 0);
    if (fd < 0) {
        tb_fail_prefix("dataset file");
        return NULL;
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        tb_fail("dataset file %s: cannot open it (out of memory?)", path);
        return NULL;
    }
    gzbuffer(f, 1 << 17);
    unsigned char head[16];
    size_t want = 4 + 4 * (size_t)ndims;
    long long got = gz_read_some(f, path, head, want);
    if (got >= 0 && (size_t)got < want)
        tb_fail("dataset file %s: truncated: expected a %zu-byte IDX header, got %lld bytes; %s", path, want, got,
                refetch);
    else if (got >= 0 && be32(head) != magic)
        tb_fail("dataset file %s: bad magic number 0x%08x, expected 0x%08x (IDX %s file); is it the right file?",
                path, be32(head), magic, magic == IDX_IMAGES_MAGIC ? "images" : "labels");
    if (got < 0 || (size_t)got < want || be32(head) != magic) {
        gzclose(f);
        return NULL;
    }
    for (int i = 0; i < ndims; i++)
        dims[i] = be32(head + 4 + 4 * i);
    return f;
}

/* Reads the body of `n` items of `item` bytes each, keeping the first `keep`
 * in a new buffer, and checks the file ends exactly after the last item. */
static int idx_read_body(gzFile f, const char *path, const char *what, size_t item, uint32_t n, uint32_t keep,
                         uint8_t **out)
{
    size_t want = (size_t)keep * item, expected = (size_t)n * item;
    /* Grow towards `want` so a header that lies about its size cannot make us
     * allocate gigabytes before the truncation is noticed. */
    size_t cap = want < ((size_t)1 << 24) ? want : (size_t)1 << 24, got = 0;
    uint8_t *buf = tb_malloc(cap, "dataset pixels");
    if (!buf)
        return -1;
    for (;;) {
        long long r = gz_read_some(f, path, buf + got, cap - got);
        if (r < 0)
            goto fail;
        got += (size_t)r;
        if (got < cap || cap == want)
            break;
        cap = cap * 2 < want ? cap * 2 : want;
        uint8_t *bigger = realloc(buf, cap);
        if (!bigger) {
            tb_fail("out of memory reading dataset file %s (%zu bytes); try --limit", path, cap);
            goto fail;
        }
        buf = bigger;
    }
    /* Count (and drop) everything after the kept items. */
    size_t total = got;
    for (;;) {
        unsigned char scratch[1 << 14];
        long long r = gz_read_some(f, path, scratch, sizeof scratch);
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        total += (size_t)r;
    }
    if (total < expected) {
        tb_fail("dataset file %s: truncated: expected %zu %s bytes, got %zu; %s", path, expected, what, total,
                refetch);
        goto fail;
    }
    if (total > expected) {
        tb_fail("dataset file %s: %zu bytes of trailing garbage after the %u items its header declares; %s", path,
                total - expected, n, refetch);
        goto fail;
    }
    *out = buf;
    return 0;
fail:
    free(buf);
    return -1;
}

static uint32_t kept(uint32_t n, int limit) { return limit > 0 && (uint32_t)limit < n ? (uint32_t)limit : n; }

int tb_idx_read_images(const char *path, int limit, tb_dataset *out)
{
    memset(out, 0, sizeof *out);
    uint32_t dims[3];
    gzFile f = idx_open(path, IDX_IMAGES_MAGIC, 3, dims);
    if (!f)
        return -1;
    int rc = -1;
    if (dims[0] > INT_MAX)
        tb_fail("dataset file %s: implausible image count %u; %s", path, dims[0], refetch);
    else if (dims[1] < 1 || dims[1] > IDX_MAX_SIDE || dims[2] < 1 || dims[2] > IDX_MAX_SIDE)
        tb_fail("dataset file %s: implausible image size %ux%u (1..%d expected); %s", path, dims[1], dims[2],
                IDX_MAX_SIDE, refetch);
    else
        rc = idx_read_body(f, path, "pixel", (size_t)dims[1] * dims[2], dims[0], kept(dims[0], limit), &out->pixels);
    gzclose(f);
    if (rc)
        return -1;
    out->total = (int)dims[0];
    out->count = (int)kept(dims[0], limit);
    out->channels = 1;
    out->height = (int)dims[1];
    out->width = (int)dims[2];
    return 0;
}

int tb_idx_read_labels(const char *path, int limit, int32_t **labels, int *count)
{
    *labels = NULL;
    *count = 0;
    uint32_t n;
    gzFile f = idx_open(path, IDX_LABELS_MAGIC, 1, &n);
    if (!f)
        return -1;
    uint8_t *raw = NULL;
    int rc = -1;
    /* Labels are small: read them all so every one is range checked. */
    if (n > INT_MAX)
        tb_fail("dataset file %s: implausible label count %u; %s", path, n, refetch);
    else
        rc = idx_read_body(f, path, "label", 1, n, n, &raw);
    gzclose(f);
    if (rc)
        return -1;
    uint32_t keep = kept(n, limit);
    int32_t *v = tb_malloc(sizeof *v * keep, "dataset labels");
    for (uint32_t i = 0; v && i < n; i++) {
        if (raw[i] >= IDX_CLASSES) {
            tb_fail("dataset file %s: label %u of item %u is out of range (0..%d expected); %s", path, raw[i], i,
                    IDX_CLASSES - 1, refetch);
            free(v);
            v = NULL;
        } else if (i < keep) {
            v[i] = raw[i];
        }
    }
    free(raw);
    if (!v)
        return -1;
    *labels = v;
    *count = (int)keep;
    return 0;
}
