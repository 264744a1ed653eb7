/* Synthetic stand-ins for the real archives, for tests and benchmarks:
 * a CIFAR-10 binary tarball and ILSVRC2012-layout tars of JPEGs.
 *
 * ImageNet images are 500x375 (most), 375x500, 500x333 or 400x300 like the
 * real set, quality 90 4:2:0 JPEGs.  Their content is a class-coloured
 * gradient, a few shapes and pixel noise, so file sizes are realistic (about
 * 60-130 kB) and no image is blank. */
#include "datasets/standin_archives.h"
#include "core/error.h" // uses: tb_fail, tb_last_error
#include "core/fsutil.h" // uses: tb_pathf, tb_open_regular, tb_rename_durable, tb_mkdir_p, tb_write_file
#include "core/rng.h" // uses: tb_rng, tb_rng_below, tb_rng_seed, tb_rng_uniform, tb_rng_next, tb_rng_shuffle
#include "datasets/dataset.h" // uses: tb_dataset, tb_dataset_synthetic, tb_dataset_free

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

/* ---- writing archives -------------------------------------------------- */

typedef struct {
    unsigned char *data;
    size_t size, cap;
} membuf;

static la_ssize_t membuf_write(struct archive *a, void *arg, const void *buf, size_t n)
{
    (void)a;
    membuf *m = arg;
    if (m->size + n > m->cap) {
        size_t cap = m->cap ? m->cap : 1 << 20;
        while (cap < m->size + n)
            cap *= 2;
        unsigned char *d = realloc(m->data, cap);
        if (!d)
            return -1;
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->size, buf, n);
    m->size += n;
    return (la_ssize_t)n;
}

/* Adds one regular file to an archive being written. */
static int add_file(struct archive *a, const char *archive, const char *name, const void *data, size_t size)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return tb_fail("%s: out of memory for entry %s", archive, name);
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1338000000, 0); /* fixed, so archives are reproducible */
    int rc = 0;
    if (archive_write_header(a, e) != ARCHIVE_OK)
        rc = tb_fail("%s: cannot add %s: %s", archive, name, archive_error_string(a));
    else if (size && archive_write_data(a, data, size) != (la_ssize_t)size)
        rc = tb_fail("%s: cannot write %s: %s", archive, name, archive_error_string(a));
    archive_entry_free(e);
    return rc;
}

static la_ssize_t fd_write(struct archive *a, void *arg, const void *buf, size_t n)
{
    for (;;) {
        ssize_t w = write(*(int *)arg, buf, n);
        if (w >= 0 || errno != EINTR) {
            if (w < 0)
                archive_set_error(a, errno, "%s", strerror(errno));
            return w;
        }
    }
}

static int fd_close(struct archive *a, void *arg)
{
    int *fd = arg, rc = ARCHIVE_OK;
    if (*fd >= 0 && close(*fd) != 0) {
        archive_set_error(a, errno, "%s", strerror(errno));
        rc = ARCHIVE_FATAL;
    }
    *fd = -1;
    return rc;
}

static int fd_free(struct archive *a, void *arg)
{
    int *fd = arg;
    if (*fd >= 0)
        fd_close(a, fd);
    free(fd);
    return ARCHIVE_OK;
}

/* A tar (optionally gzipped) written to path.tmp, a new file never opened
 * through a link (archive_write_open_filename would follow one), and renamed
 * on close. */
static struct archive *open_tar(const char *path, int gzip)
{
    struct archive *a = archive_write_new();
    if (!a) {
        tb_fail("%s: libarchive cannot allocate a writer", path);
        return NULL;
    }
    char tmp[4200];
    if (tb_pathf(tmp, sizeof tmp, "%s.tmp", path) || archive_write_set_format_ustar(a) != ARCHIVE_OK ||
        (gzip && (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
                  archive_write_set_options(a, "gzip:compression-level=1") != ARCHIVE_OK))) {
        tb_fail("cannot create %s: %s", tmp, archive_error_string(a));
        archive_write_free(a);
        return NULL;
    }
    if (unlink(tmp) != 0 && errno != ENOENT) { /* a killed run's leftover, or anything planted there */
        tb_fail("cannot remove %s: %s", tmp, strerror(errno));
        archive_write_free(a);
        return NULL;
    }
    int *fd = malloc(sizeof *fd);
    if (!fd || (*fd = tb_open_regular(tmp, O_WRONLY | O_CREAT | O_EXCL)) < 0) {
        if (!fd)
            tb_fail("out of memory creating %s", tmp);
        free(fd);
        archive_write_free(a);
        return NULL;
    }
    /* From here fd_free (called by archive_write_free) closes and frees fd. */
    if (archive_write_open2(a, fd, NULL, fd_write, fd_close, fd_free) != ARCHIVE_OK) {
        tb_fail("cannot create %s: %s", tmp, archive_error_string(a));
        archive_write_free(a);
        remove(tmp);
        return NULL;
    }
    return a;
}

static int close_tar(struct archive *a, const char *path, int ok)
{
    char tmp[4200];
    tb_pathf(tmp, sizeof tmp, "%s.tmp", path);
    if (archive_write_close(a) != ARCHIVE_OK && ok)
        ok = !tb_fail("cannot finish %s: %s", tmp, archive_error_string(a));
    archive_write_free(a);
    if (!ok) {
        remove(tmp);
        return -1;
    }
    return tb_rename_durable(tmp, path);
}

/* ---- CIFAR-10 ---------------------------------------------------------- */

int tb_standin_cifar10(const char *out, int per_class, uint64_t seed)
{
    if (tb_mkdir_p(out))
        return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/cifar-10-binary.tar.gz", out);
    struct archive *a = open_tar(path, 1);
    if (!a)
        return -1;
    static const char meta[] = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    int ok = add_file(a, path, "cifar-10-batches-bin/batches.meta.txt", meta, sizeof meta - 1) == 0;
    const int n = per_class * 10;
    unsigned char *rec = malloc((size_t)n * 3073);
    if (!rec)
        ok = !tb_fail("out of memory for %d CIFAR records", n);
    for (int b = 0; ok && b < 6; b++) {
        tb_dataset ds;
        if (tb_dataset_synthetic(n, 10, seed * 7 + (uint64_t)b, &ds)) {
            ok = 0;
            break;
        }
        for (int i = 0; i < n; i++) {
            rec[(size_t)i * 3073] = (unsigned char)ds.labels[i];
            memcpy(rec + (size_t)i * 3073 + 1, ds.pixels + (size_t)i * 3072, 3072);
        }
        tb_dataset_free(&ds);
        char name[64];
        if (b < 5)
            snprintf(name, sizeof name, "cifar-10-batches-bin/data_batch_%d.bin", b + 1);
        else
            snprintf(name, sizeof name, "cifar-10-batches-bin/test_batch.bin");
        ok = add_file(a, path, name, rec, (size_t)n * 3073) == 0;
    }
    free(rec);
    if (close_tar(a, path, ok))
        return -1;
    printf("wrote %s (%d images per batch file)\n", path, n);
    return 0;
}

/* ---- ImageNet ---------------------------------------------------------- */

static void wnid_of(int k, char out[16]) { snprintf(out, 16, "n%08d", 1440764 + k * 7919); }

/* One synthetic photo-like JPEG of class k; *jpeg from tjAlloc (tjFree it). */
static int make_jpeg(tjhandle tj, int k, tb_rng *r, unsigned char **jpeg, unsigned long *size)
{
    static const int sizes[][2] = {{500, 375}, {500, 375}, {500, 375}, {375, 500}, {500, 333}, {400, 300}};
    const int *wh = sizes[tb_rng_below(r, 6)];
    const int w = wh[0], h = wh[1];
    unsigned char *rgb = malloc((size_t)w * h * 3);
    if (!rgb)
        return tb_fail("out of memory for a %dx%d image", w, h);
    /* Class colours are fixed per class; placement and noise per image. */
    tb_rng cr;
    tb_rng_seed(&cr, 0x696d616765ull, (uint64_t)k, 0, 0);
    float c0[3], c1[3], c2[3];
    for (int c = 0; c < 3; c++) {
        c0[c] = 30 + 200 * (float)tb_rng_uniform(&cr);
        c1[c] = 30 + 200 * (float)tb_rng_uniform(&cr);
        c2[c] = 30 + 200 * (float)tb_rng_uniform(&cr);
    }
    float cx = w * (0.3f + 0.4f * (float)tb_rng_uniform(r)), cy = h * (0.3f + 0.4f * (float)tb_rng_uniform(r));
    float rad = (float)(w < h ? w : h) * (0.15f + 0.2f * (float)tb_rng_uniform(r));
    float fx = 0.02f + 0.1f * (float)tb_rng_uniform(r), fy = 0.02f + 0.1f * (float)tb_rng_uniform(r);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float t = (float)(x + y) / (float)(w + h);
            float dx = x - cx, dy = y - cy;
            int inside = dx * dx + dy * dy < rad * rad;
            /* Texture: stripes inside the shape, fine noise everywhere. */
            float stripe = inside ? 25.0f * (float)((x * fx + y * fy) - (int)(x * fx + y * fy) > 0.5f) : 0;
            uint64_t z = tb_rng_next(r);
            for (int c = 0; c < 3; c++) {
                float v = inside ? c2[c] + stripe : c0[c] * (1 - t) + c1[c] * t;
                v += (float)((z >> (c * 8)) & 63) - 31.5f;
                rgb[((size_t)y * w + x) * 3 + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    *jpeg = NULL;
    *size = 0;
    int rc = tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, jpeg, size, TJSAMP_420, 90, 0);
    free(rgb);
    if (rc != 0)
        return tb_fail("JPEG encoding failed: %s", tjGetErrorStr2(tj));
    return 0;
}

typedef struct {
    int k, per_class;
    uint64_t seed;
    membuf tar; /* the class's inner tar */
    int rc;
    char error[512];
} class_job;

/* Makes the inner tar nXXXXXXXX.tar of one class in memory. */
static void *make_class(void *arg)
{
    class_job *j = arg;
    j->rc = -1;
    char wnid[16];
    wnid_of(j->k, wnid);
    tjhandle tj = tjInitCompress();
    struct archive *a = archive_write_new();
    if (!tj || !a) {
        tb_fail("cannot initialise TurboJPEG or libarchive (out of memory?)");
        goto done;
    }
    if (archive_write_set_format_ustar(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open2(a, &j->tar, NULL, membuf_write, NULL, NULL) != ARCHIVE_OK) {
        tb_fail("cannot start the tar of class %s: %s", wnid, archive_error_string(a));
        goto done;
    }
    tb_rng r;
    tb_rng_seed(&r, j->seed, 0x7472, (uint64_t)j->k, 0);
    int ok = 1;
    for (int i = 0; ok && i < j->per_class; i++) {
        unsigned char *jpeg;
        unsigned long size;
        char name[64];
        snprintf(name, sizeof name, "%s_%d.JPEG", wnid, 10000 + i);
        if (make_jpeg(tj, j->k, &r, &jpeg, &size)) {
            ok = 0;
            break;
        }
        ok = add_file(a, wnid, name, jpeg, size) == 0;
        tjFree(jpeg);
    }
    if (archive_write_close(a) != ARCHIVE_OK && ok)
        ok = !tb_fail("cannot finish the tar of class %s: %s", wnid, archive_error_string(a));
    j->rc = ok ? 0 : -1;
done:
    if (j->rc)
        snprintf(j->error, sizeof j->error, "%s", tb_last_error());
    archive_write_free(a);
    if (tj)
        tjDestroy(tj);
    return NULL;
}

static int write_train(const char *out, int classes, int per_class, uint64_t seed, int quiet)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ILSVRC2012_img_train.tar", out);
    struct archive *a = open_tar(path, 0);
    if (!a)
        return -1;
    enum { T = 2 }; /* classes made at once (the machines here have 2 cores) */
    int ok = 1;
    size_t bytes = 0;
    for (int k0 = 0; ok && k0 < classes; k0 += T) {
        class_job jobs[T];
        pthread_t th[T];
        int n = classes - k0 < T ? classes - k0 : T, started = 0;
        for (int t = 0; t < n; t++) {
            memset(&jobs[t], 0, sizeof jobs[t]);
            jobs[t].k = k0 + t;
            jobs[t].per_class = per_class;
            jobs[t].seed = seed;
            if (pthread_create(&th[t], NULL, make_class, &jobs[t]) != 0)
                make_class(&jobs[t]); /* no thread: do it here */
            else
                started |= 1 << t;
        }
        for (int t = 0; t < n; t++) {
            if (started & 1 << t)
                pthread_join(th[t], NULL);
            char wnid[16], name[32];
            wnid_of(k0 + t, wnid);
            snprintf(name, sizeof name, "%s.tar", wnid);
            if (ok && jobs[t].rc)
                ok = !tb_fail("%s", jobs[t].error);
            if (ok)
                ok = add_file(a, path, name, jobs[t].tar.data, jobs[t].tar.size) == 0;
            bytes += jobs[t].tar.size;
            free(jobs[t].tar.data);
        }
        if (!quiet && isatty(2))
            fprintf(stderr, "\r  train: %d/%d classes, %.1f MB", k0 + n, classes, bytes / 1e6);
    }
    if (!quiet && isatty(2))
        fprintf(stderr, "\n");
    return close_tar(a, path, ok);
}

/* ---- the devkit: a MATLAB v5 meta.mat and the ground truth ------------- */

/* Appends a MAT v5 data element: the small format for 1-4 bytes, else a tag
 * and the data padded to 8 bytes. */
static void mat_elem(membuf *m, int *ok, uint32_t type, const void *data, size_t len)
{
    static const unsigned char zero[8] = {0};
    uint32_t tag[2] = {type, (uint32_t)len};
    if (len > 0 && len <= 4)
        tag[0] = type | (uint32_t)len << 16;
    int small = len > 0 && len <= 4;
    *ok &= membuf_write(NULL, m, tag, small ? 4 : 8) >= 0;
    if (len)
        *ok &= membuf_write(NULL, m, data, len) >= 0;
    size_t pad = small ? 4 - len : (8 - len % 8) % 8;
    if (pad)
        *ok &= membuf_write(NULL, m, zero, pad) >= 0;
}

enum { MI_INT8 = 1, MI_UINT8 = 2, MI_UINT16 = 4, MI_INT32 = 5, MI_UINT32 = 6, MI_DOUBLE = 9, MI_MATRIX = 14,
       MI_UTF16 = 17 };

/* Appends a miMATRIX of class cls, rows x cols, with the given name and the
 * already encoded elements that follow the name. */
static void mat_matrix(membuf *m, int *ok, unsigned cls, int rows, int cols, const char *name, const membuf *body)
{
    membuf b = {0};
    uint32_t flags[2] = {cls, 0};
    int32_t dims[2] = {rows, cols};
    mat_elem(&b, ok, MI_UINT32, flags, 8);
    mat_elem(&b, ok, MI_INT32, dims, 8);
    mat_elem(&b, ok, MI_INT8, name, strlen(name));
    if (body->size)
        *ok &= membuf_write(NULL, &b, body->data, body->size) >= 0;
    mat_elem(m, ok, MI_MATRIX, b.data, b.size);
    free(b.data);
}

/* A double matrix 1 x n stored as `type` (what MATLAB does for whole numbers). */
static void mat_numbers(membuf *m, int *ok, const double *v, int n, uint32_t type)
{
    unsigned char raw[8 * 64];
    size_t sz = type == MI_UINT8 ? 1 : type == MI_UINT16 ? 2 : 8;
    for (int i = 0; i < n && i < 64; i++) {
        uint64_t u = type == MI_UINT8 ? (uint8_t)v[i] : type == MI_UINT16 ? (uint16_t)v[i] : 0;
        if (sz == 8)
            memcpy(&u, &v[i], 8);
        for (size_t k = 0; k < sz; k++)
            raw[(size_t)i * sz + k] = (unsigned char)(u >> (8 * k));
    }
    membuf body = {0};
    mat_elem(&body, ok, type, raw, sz * (size_t)(n < 64 ? n : 64));
    mat_matrix(m, ok, 6 /* mxDOUBLE */, 1, n < 64 ? n : 64, "", &body);
    free(body.data);
}

/* A 1 x n char array, as UTF-16 or as bytes. */
static void mat_chars(membuf *m, int *ok, const char *s, int utf16)
{
    size_t n = strlen(s);
    unsigned char raw[2 * 128];
    if (n > 128)
        n = 128;
    for (size_t i = 0; i < n; i++) {
        if (utf16) {
            raw[2 * i] = (unsigned char)s[i];
            raw[2 * i + 1] = 0;
        } else {
            raw[i] = (unsigned char)s[i];
        }
    }
    membuf body = {0};
    mat_elem(&body, ok, utf16 ? MI_UTF16 : MI_UINT8, raw, utf16 ? 2 * n : n);
    mat_matrix(m, ok, 4 /* mxCHAR */, 1, (int)n, "", &body);
    free(body.data);
}

/* meta.mat: synsets, a (classes+1) x 1 struct array like the devkit's: the
 * leaf classes with ILSVRC2012_ID 1..classes, then one inner synset (ID
 * 1001) whose children are all of them. */
static int write_meta_mat(membuf *m, int classes)
{
    static const char *fields[] = {"ILSVRC2012_ID", "WNID", "words", "num_children", "children"};
    enum { NF = 5, FL = 32 };
    int ok = 1;
    char head[128];
    memset(head, ' ', 116);
    memcpy(head, "MATLAB 5.0 MAT-file, Platform: trainbench synth", 47);
    memset(head + 116, 0, 8);
    head[124] = 0x00;
    head[125] = 0x01;
    head[126] = 'I';
    head[127] = 'M';
    ok &= membuf_write(NULL, m, head, 128) >= 0;
    membuf body = {0};
    int32_t fl = FL;
    char names[NF * FL] = {0};
    for (int f = 0; f < NF; f++)
        memcpy(names + f * FL, fields[f], strlen(fields[f]));
    mat_elem(&body, &ok, MI_INT32, &fl, 4);
    mat_elem(&body, &ok, MI_INT8, names, sizeof names);
    for (int k = 0; k <= classes; k++) {
        char wnid[16], words[48];
        int inner = k == classes;
        double id = inner ? 1001 : k + 1, nchild = inner ? classes : 0, children[64];
        if (inner)
            snprintf(wnid, sizeof wnid, "n00001740");
        else
            wnid_of(k, wnid);
        snprintf(words, sizeof words, inner ? "entity" : "synthetic class %d", k);
        for (int c = 0; c < classes && c < 64; c++)
            children[c] = c + 1;
        mat_numbers(&body, &ok, &id, 1, MI_UINT16);
        mat_chars(&body, &ok, wnid, 1);
        mat_chars(&body, &ok, words, 0);
        mat_numbers(&body, &ok, &nchild, 1, MI_UINT8);
        mat_numbers(&body, &ok, children, inner ? classes : 0, MI_DOUBLE);
    }
    mat_matrix(m, &ok, 2 /* mxSTRUCT */, classes + 1, 1, "synsets", &body);
    free(body.data);
    return ok ? 0 : tb_fail("out of memory writing meta.mat");
}

/* ILSVRC2012_devkit_t12.tar.gz with data/meta.mat and the ground truth for
 * the validation labels label[0..n). */
static int write_devkit(const char *out, int classes, const int32_t *label, int n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ILSVRC2012_devkit_t12.tar.gz", out);
    membuf meta = {0}, gt = {0};
    int ok = write_meta_mat(&meta, classes) == 0;
    for (int i = 0; ok && i < n; i++) {
        char line[16];
        int len = snprintf(line, sizeof line, "%d\n", label[i] + 1);
        ok = membuf_write(NULL, &gt, line, (size_t)len) >= 0 || !tb_fail("out of memory");
    }
    struct archive *a = ok ? open_tar(path, 1) : NULL;
    if (a) {
        ok = add_file(a, path, "ILSVRC2012_devkit_t12/COPYING", "synthetic\n", 10) == 0 &&
             add_file(a, path, "ILSVRC2012_devkit_t12/data/meta.mat", meta.data, meta.size) == 0 &&
             add_file(a, path, "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt", gt.data,
                      gt.size) == 0;
    }
    free(meta.data);
    free(gt.data);
    return a ? close_tar(a, path, ok) : -1;
}

static int write_val(const char *out, int classes, int per_class, uint64_t seed)
{
    const int n = classes * per_class;
    int32_t *label = malloc(sizeof *label * (size_t)n);
    if (!label)
        return tb_fail("out of memory");
    for (int i = 0; i < n; i++)
        label[i] = i % classes;
    tb_rng r;
    tb_rng_seed(&r, seed, 0x76616c, 0, 0);
    tb_rng_shuffle(&r, label, n); /* the real val tar mixes the classes */
    char path[4200], list[4200];
    snprintf(path, sizeof path, "%s/ILSVRC2012_img_val.tar", out);
    snprintf(list, sizeof list, "%s/valprep.sh", out);
    struct archive *a = open_tar(path, 0);
    tjhandle tj = tjInitCompress();
    size_t cap = (size_t)n * 64 + (size_t)classes * 32 + 64, used = 0;
    char *sh = malloc(cap);
    int ok = a && tj && sh;
    if (!ok && a)
        tb_fail("out of memory or TurboJPEG unavailable");
    if (ok) {
        for (int k = 0; k < classes; k++) {
            char wnid[16];
            wnid_of(k, wnid);
            used += (size_t)snprintf(sh + used, cap - used, "mkdir -p %s\n", wnid);
        }
    }
    for (int i = 0; ok && i < n; i++) {
        unsigned char *jpeg;
        unsigned long size;
        char name[64], wnid[16];
        wnid_of(label[i], wnid);
        snprintf(name, sizeof name, "ILSVRC2012_val_%08d.JPEG", i + 1);
        tb_rng ir;
        tb_rng_seed(&ir, seed, 0x76616c, 1, (uint64_t)i);
        if (make_jpeg(tj, label[i], &ir, &jpeg, &size)) {
            ok = 0;
            break;
        }
        ok = add_file(a, path, name, jpeg, size) == 0;
        tjFree(jpeg);
        used += (size_t)snprintf(sh + used, cap - used, "mv %s %s/\n", name, wnid);
    }
    if (tj)
        tjDestroy(tj);
    int rc = a ? close_tar(a, path, ok) : -1;
    if (!rc)
        rc = tb_write_file(list, sh, used, 1);
    if (!rc && classes <= 1000) /* the devkit's IDs 1..1000 name the leaf classes */
        rc = write_devkit(out, classes, label, n);
    free(sh);
    free(label);
    return rc;
}

int tb_standin_imagenet(const char *out, int classes, int per_class, int val_per_class, uint64_t seed, int quiet)
{
    if (tb_mkdir_p(out))
        return -1;
    if (write_train(out, classes, per_class, seed, quiet) || write_val(out, classes, val_per_class, seed))
        return -1;
    if (!quiet)
        printf("wrote %s/ILSVRC2012_img_train.tar (%d classes x %d images), ILSVRC2012_img_val.tar (%d images)"
               ", valprep.sh and ILSVRC2012_devkit_t12.tar.gz\n",
               out, classes, per_class, classes * val_per_class);
    return 0;
}
