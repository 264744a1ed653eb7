/* `trainbench data imagenet`: ILSVRC2012 tars to class folders.
 *
 * The train tar holds one nXXXXXXXX.tar per class.  Each inner tar is read
 * straight out of the outer stream (a second libarchive reader whose read
 * callback pulls the outer entry's data blocks), so no inner tar is ever
 * copied to disk.  One thread reads; `threads` writer threads write the
 * JPEGs with plain open/write (not archive_write_disk, which changes the
 * process umask and is not for several threads).  A class is written into
 * train/.WNID.partial and renamed to train/WNID when its last file is
 * written, so a class folder exists only when complete: a second run skips
 * those, and redoes a class cut off halfway.  Validation images go to
 * .val.partial/WNID/ and the folder is renamed to val/ when all are there.
 *
 * Compared with the two-pass shell way (extract the outer tar, then for each
 * class mkdir + tar -xf + rm), every byte is read once and written once, and
 * the writes overlap the reading. */
#include "datasets/imagenet_prep.h"
#include "core/error.h" // uses: tb_fail, tb_last_error, tb_fail_prefix
#include "core/fsutil.h" // uses: tb_open_regular, tb_pathf, tb_rm_rf, tb_mkdir_p, tb_is_dir, tb_read_file, ...
#include "datasets/checksum.h" // uses: tb_checksum, tb_checksum_parse, tb_checksum_verify
#include "datasets/extract.h" // uses: tb_extract_check_name, tb_extract_open
#include "datasets/matfile.h" // uses: tb_mat_struct, tb_mat_field, tb_mat_value, TB_MAT_NUMBER, TB_MAT_CHAR, ...

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#define TRAIN_MD5 "md5:1d675b47d978889d74fa0da5fadfb00e"
#define VAL_MD5 "md5:29b22e2961454d5413ddabcf34fc5622"
#define REAL_CLASSES 1000
#define REAL_TRAIN 1281167
#define REAL_VAL 50000
#define MAX_IMAGE (64u << 20)        /* larger "JPEGs" are refused: a corrupt header */
#define QUEUE_BYTES ((size_t)256 << 20) /* bytes read ahead of the writers */

typedef struct cls {
    char partial[4200], final[4200];
    int pending;     /* files queued, not yet written */
    int reader_done; /* the reader queued the class's last file */
    struct cls *next;
} cls;

typedef struct job {
    char path[4300];
    unsigned char *data;
    size_t size;
    cls *c; /* NULL: a validation file */
    struct job *next;
} job;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t work, space, idle;
    job *head, *tail;
    size_t queued;
    int busy, stop, failed;
    char error[1024];
    cls *classes; /* every class record, freed at the end */
    long written;
    double bytes;
} pool;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Records the first failure (under the mutex); everything stops after it. */
static void pool_fail_locked(pool *p, const char *msg)
{
    if (!p->failed)
        snprintf(p->error, sizeof p->error, "%s", msg);
    p->failed = 1;
    pthread_cond_broadcast(&p->space);
    pthread_cond_broadcast(&p->idle);
}

static void finish_class_locked(pool *p, cls *c)
{
    if (p->failed)
        return;
    if (rename(c->partial, c->final) != 0) {
        char msg[1024];
        tb_fail("cannot rename %s to %s: %s", c->partial, c->final, strerror(errno));
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        pool_fail_locked(p, msg);
    }
}

static int write_job(const job *j)
{
    /* The folder is new: a file already there (or a link) means the tar names it twice. */
    int fd = tb_open_regular(j->path, O_WRONLY | O_CREAT | O_EXCL);
    if (fd < 0)
        return -1;
    const unsigned char *d = j->data;
    size_t left = j->size;
    while (left) {
        ssize_t w = write(fd, d, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            return tb_fail("cannot write %s: %s%s", j->path, strerror(e),
                           e == ENOSPC ? "; the disk is full: free space (or use another --out) and run the same "
                                         "command again, finished classes are kept"
                                       : "");
        }
        d += w;
        left -= (size_t)w;
    }
    if (close(fd) != 0)
        return tb_fail("cannot write %s: %s", j->path, strerror(errno));
    return 0;
}

static void *writer_main(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->work, &p->mu);
        if (!p->head)
            break;
        job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->busy++;
        pthread_mutex_unlock(&p->mu);
        int rc = p->failed ? 0 : write_job(j);
        pthread_mutex_lock(&p->mu);
        p->busy--;
        p->queued -= j->size;
        if (rc)
            pool_fail_locked(p, tb_last_error());
        else {
            p->written++;
            p->bytes += (double)j->size;
        }
        if (j->c && --j->c->pending == 0 && j->c->reader_done)
            finish_class_locked(p, j->c);
        pthread_cond_broadcast(&p->space);
        if (!p->head && !p->busy)
            pthread_cond_broadcast(&p->idle);
        free(j->data);
        free(j);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Hands a file to the writers; takes ownership of data.  Blocks while the
 * queue is full.  Fails when a writer failed. */
static int enqueue(pool *p, const char *path, unsigned char *data, size_t size, cls *c)
{
    job *j = malloc(sizeof *j);
    if (!j) {
        free(data);
        return tb_fail("out of memory queueing %s", path);
    }
    snprintf(j->path, sizeof j->path, "%s", path);
    j->data = data;
    j->size = size;
    j->c = c;
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    while (!p->failed && p->queued > QUEUE_BYTES)
        pthread_cond_wait(&p->space, &p->mu);
    if (p->failed) {
        pthread_mutex_unlock(&p->mu);
        free(data);
        free(j);
        return tb_fail("%s", p->error);
    }
    if (c)
        c->pending++;
    p->queued += size;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* Waits until every queued file is written; fails if a writer failed. */
static int drain(pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (!p->failed && (p->head || p->busy))
        pthread_cond_wait(&p->idle, &p->mu);
    int failed = p->failed;
    pthread_mutex_unlock(&p->mu);
    return failed ? tb_fail("%s", p->error) : 0;
}

/* Reads the current entry's data whole (entries are single JPEGs). */
static int read_entry(struct archive *a, const char *what, const char *name, la_int64_t size, unsigned char **out)
{
    *out = NULL;
    if (size < 0 || (uint64_t)size > MAX_IMAGE)
        return tb_fail("%s: entry '%s' claims %lld bytes, more than an image can be; the archive is corrupt", what,
                       name, (long long)size);
    unsigned char *buf = malloc(size ? (size_t)size : 1);
    if (!buf)
        return tb_fail("out of memory reading %s from %s", name, what);
    size_t got = 0;
    while (got < (size_t)size) {
        la_ssize_t r = archive_read_data(a, buf + got, (size_t)size - got);
        if (r < 0) {
            free(buf);
            return tb_fail("%s: entry '%s' is truncated or corrupt (%s); download the archive again", what, name,
                           archive_error_string(a));
        }
        if (r == 0) {
            free(buf);
            return tb_fail("%s: entry '%s' ends after %zu of %lld bytes; the archive is truncated", what, name, got,
                           (long long)size);
        }
        got += (size_t)r;
    }
    *out = buf;
    return 0;
}

/* A name for a file of a class folder: one plain path component. */
static int plain_name(const char *what, const char *name)
{
    if (tb_extract_check_name(what, name))
        return -1;
    if (strchr(name, '/') || !strcmp(name, "."))
        return tb_fail("%s: entry '%s' is not a plain file name; refusing it", what, name);
    return 0;
}

/* Is it a JPEG TurboJPEG can read?  Header only: cheap. */
static int jpeg_ok(tjhandle tj, const unsigned char *d, size_t n)
{
    int w = 0, h = 0, sub, cs;
    /* TurboJPEG can return success for a header cut short, leaving w and h unset. */
    return n > 4 && d[0] == 0xFF && d[1] == 0xD8 &&
           tjDecompressHeader3(tj, d, (unsigned long)n, &w, &h, &sub, &cs) == 0 && w > 0 && h > 0;
}

typedef struct {
    const tb_imagenet_prep_options *o;
    pool *p;
    tjhandle tj;
    long corrupt;
    double t0;
} prep;

static int bad_jpeg(prep *pr, const char *what, const char *name)
{
    if (pr->o->strict)
        return tb_fail("%s: '%s' is not a readable JPEG (corrupt); without --strict it would be skipped and counted",
                       what, name);
    pr->corrupt++;
    fprintf(stderr, "  warning: %s: '%s' is not a readable JPEG; skipped\n", what, name);
    return 0;
}

/* ---- train ------------------------------------------------------------- */

typedef struct {
    struct archive *outer;
    const char *outer_name;
} inner_src;

static la_ssize_t inner_read(struct archive *a, void *arg, const void **buf)
{
    inner_src *s = arg;
    size_t size;
    la_int64_t offset;
    int r = archive_read_data_block(s->outer, buf, &size, &offset);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r < ARCHIVE_WARN) {
        archive_set_error(a, archive_errno(s->outer), "%s", archive_error_string(s->outer));
        return -1;
    }
    return (la_ssize_t)size;
}

static long count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* One inner class tar, read out of the outer stream. */
static int prep_class(prep *pr, struct archive *outer, const char *tarname, const char *wnid, const char *train,
                      long *images)
{
    cls *c = calloc(1, sizeof *c);
    if (!c)
        return tb_fail("out of memory");
    if (tb_pathf(c->partial, sizeof c->partial, "%s/.%s.partial", train, wnid) ||
        tb_pathf(c->final, sizeof c->final, "%s/%s", train, wnid)) {
        free(c);
        return -1;
    }
    pthread_mutex_lock(&pr->p->mu);
    c->next = pr->p->classes;
    pr->p->classes = c;
    pthread_mutex_unlock(&pr->p->mu);
    if (tb_rm_rf(c->partial) || tb_mkdir_p(c->partial))
        return -1;
    char what[4400];
    snprintf(what, sizeof what, "%s: %s", pr->o->train_tar, tarname);
    struct archive *in = archive_read_new();
    if (!in)
        return tb_fail("%s: libarchive cannot allocate a reader", what);
    archive_read_support_format_tar(in);
    inner_src src = {outer, pr->o->train_tar};
    int rc = 0;
    if (archive_read_open(in, &src, NULL, inner_read, NULL) != ARCHIVE_OK) {
        rc = tb_fail("%s: not a tar archive (%s)", what, archive_error_string(in));
        goto done;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = tb_fail("%s is truncated or corrupt after %ld images (%s); download the train tar again", what,
                         *images, archive_error_string(in));
            break;
        }
        if (archive_entry_filetype(e) != AE_IFREG)
            continue; /* folders in a class tar carry nothing */
        const char *name = archive_entry_pathname(e);
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        if (tb_extract_check_name(what, name) || plain_name(what, base)) {
            rc = -1;
            break;
        }
        unsigned char *data;
        la_int64_t size = archive_entry_size(e);
        if (read_entry(in, what, name, size, &data)) {
            rc = -1;
            break;
        }
        if (!jpeg_ok(pr->tj, data, (size_t)size)) {
            free(data);
            if ((rc = bad_jpeg(pr, what, name)))
                break;
            continue;
        }
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", c->partial, base);
        if ((rc = enqueue(pr->p, path, data, (size_t)size, c)))
            break;
        (*images)++;
    }
done:
    archive_read_free(in);
    if (!rc) {
        pthread_mutex_lock(&pr->p->mu);
        c->reader_done = 1;
        if (c->pending == 0)
            finish_class_locked(pr->p, c);
        pthread_mutex_unlock(&pr->p->mu);
    }
    return rc;
}

static void progress(prep *pr, const char *phase, long classes, long images, int last)
{
    if (pr->o->quiet)
        return;
    double t = now_s() - pr->t0;
    static double last_t;
    int tty = isatty(STDERR_FILENO);
    if (!last && (tty ? t - last_t < 0.25 : t - last_t < 10))
        return;
    last_t = t;
    pthread_mutex_lock(&pr->p->mu);
    double mb = pr->p->bytes / 1e6;
    pthread_mutex_unlock(&pr->p->mu);
    fprintf(stderr, "%s  %s: %ld classes, %ld images, %.0f MB written, %.0f MB/s, %.0f s%s", tty ? "\r" : "", phase,
            classes, images, mb, t > 0 ? mb / t : 0, t, tty && !last ? "   " : "\n");
}

static int prep_train(prep *pr)
{
    const tb_imagenet_prep_options *o = pr->o;
    char train[4200];
    snprintf(train, sizeof train, "%s/train", o->out);
    if (tb_mkdir_p(train))
        return -1;
    struct archive *a = archive_read_new();
    if (!a)
        return tb_fail("libarchive cannot allocate a reader");
    archive_read_support_format_tar(a);
    int rc = 0;
    long classes = 0, skipped = 0, images = 0, kept = 0;
    int fd = tb_extract_open(a, o->train_tar, 1 << 20);
    if (fd < 0) {
        rc = tb_fail_prefix("the train tar");
        goto done;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = tb_fail("the train tar %s is truncated or corrupt after %ld classes (%s); download it again (the "
                         "finished classes are kept: run the same command again after)",
                         o->train_tar, classes + skipped, archive_error_string(a));
            break;
        }
        const char *name = archive_entry_pathname(e);
        size_t len = name ? strlen(name) : 0;
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        if (plain_name(o->train_tar, name) || len < 5 || strcmp(name + len - 4, ".tar") != 0) {
            rc = tb_fail("the train tar %s holds '%s', not a class tar nXXXXXXXX.tar; is it ILSVRC2012_img_train.tar?",
                         o->train_tar, name ? name : "");
            break;
        }
        char wnid[256], final[4400];
        snprintf(wnid, sizeof wnid, "%.*s", (int)(len - 4), name);
        if ((rc = tb_pathf(final, sizeof final, "%s/%s", train, wnid)))
            break;
        if (tb_is_dir(final)) { /* finished by an earlier run */
            long n = count_files(final);
            kept += n > 0 ? n : 0;
            skipped++;
            if (archive_read_data_skip(a) < ARCHIVE_WARN) {
                rc = tb_fail("the train tar %s is truncated after %s (%s)", o->train_tar, name,
                             archive_error_string(a));
                break;
            }
            continue;
        }
        if ((rc = prep_class(pr, a, name, wnid, train, &images)))
            break;
        classes++;
        progress(pr, "train", classes + skipped, images + kept, 0);
    }
done:
    archive_read_free(a);
    if (fd >= 0)
        close(fd);
    if (!rc)
        rc = drain(pr->p);
    if (rc)
        return -1;
    progress(pr, "train", classes + skipped, images + kept, 1);
    long total = images + kept, nclasses = classes + skipped;
    if (nclasses == 0)
        return tb_fail("the train tar %s holds no class tars", o->train_tar);
    if (nclasses == REAL_CLASSES && total != REAL_TRAIN && !pr->corrupt)
        return tb_fail("train: %ld images in 1000 classes, but ILSVRC2012 has %d; the train tar is incomplete",
                       total, REAL_TRAIN);
    printf("train: %ld classes (%ld done now, %ld kept from an earlier run), %ld images%s\n", nclasses, classes,
           skipped, total, nclasses == REAL_CLASSES ? " (the full ILSVRC2012 count)" : "");
    return 0;
}

/* ---- validation -------------------------------------------------------- */

typedef struct {
    char *name, *wnid;
} val_label;

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const val_label *)a)->name, ((const val_label *)b)->name);
}

/* Parses "mv FILE WNID/" lines (valprep.sh) in text, which it changes and
 * the labels point into; other lines are ignored.  path names it. */
static int parse_valprep(const char *path, char *text, val_label **out, int *n)
{
    int cap = 1024, count = 0;
    val_label *v = malloc(sizeof *v * (size_t)cap);
    int line_no = 0;
    for (char *line = text, *next; v && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        if (strncmp(line, "mv ", 3) != 0)
            continue;
        char *file = strtok(line + 3, " \t\r"), *dir = strtok(NULL, " \t\r");
        size_t dl = dir ? strlen(dir) : 0;
        if (dl && dir[dl - 1] == '/')
            dir[--dl] = '\0';
        if (!file || !dl || strchr(dir, '/') || !strcmp(dir, "..") || !strcmp(dir, ".") || dir[0] == '.') {
            free(v);
            return tb_fail("%s line %d: expected 'mv FILE WNID/'", path, line_no);
        }
        if (count == cap) {
            val_label *bigger = realloc(v, sizeof *v * (size_t)(cap *= 2));
            if (!bigger)
                free(v);
            v = bigger;
            if (!v)
                break;
        }
        v[count].name = file;
        v[count].wnid = dir;
        count++;
    }
    if (!v)
        return tb_fail("out of memory reading %s", path);
    if (!count) {
        free(v);
        return tb_fail("%s names no validation images ('mv FILE WNID/' lines); is it valprep.sh?", path);
    }
    qsort(v, (size_t)count, sizeof *v, cmp_label);
    *out = v;
    *n = count;
    return 0;
}

/* ---- the devkit: ground truth + meta.mat -------------------------------- */

#define DEVKIT_GT "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"
#define DEVKIT_META "ILSVRC2012_devkit_t12/data/meta.mat"
#define LEAF_IDS 1000 /* ILSVRC2012_IDs 1..1000 are the leaf classes */

static int wnid_ok(const char *w)
{
    size_t n = strlen(w);
    if (n == 0 || n > 63 || w[0] == '.' || w[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= 'A' && w[i] <= 'Z') || (w[i] >= '0' && w[i] <= '9') ||
              w[i] == '_' || w[i] == '-'))
            return 0;
    return 1;
}

/* wnid[id] for ILSVRC2012_ID 1..1000, from the synsets struct of meta.mat
 * (pointers into s). */
static int leaf_wnids(const char *label, const tb_mat_struct *s, const char *wnid[LEAF_IDS + 1])
{
    int fi = tb_mat_field(s, "ILSVRC2012_ID"), fw = tb_mat_field(s, "WNID");
    if (fi < 0 || fw < 0)
        return tb_fail("%s: the synsets struct has no %s field", label, fi < 0 ? "ILSVRC2012_ID" : "WNID");
    for (size_t e = 0; e < s->nelem; e++) {
        const tb_mat_value *id = &s->values[e * s->nfields + (size_t)fi], *w = &s->values[e * s->nfields + (size_t)fw];
        if (id->kind != TB_MAT_NUMBER || id->count != 1)
            return tb_fail("%s: synset %zu has no single numeric ILSVRC2012_ID", label, e + 1);
        double v = id->num[0];
        if (!(v >= 1 && v <= LEAF_IDS))
            continue; /* an inner synset (ID 1001..1860) */
        int k = (int)v;
        if (k != v)
            return tb_fail("%s: synset %zu has ILSVRC2012_ID %g, not a whole number", label, e + 1, v);
        if (w->kind != TB_MAT_CHAR || !wnid_ok(w->str))
            return tb_fail("%s: synset %zu (ILSVRC2012_ID %d) has no valid WNID", label, e + 1, k);
        if (wnid[k])
            return tb_fail("%s: ILSVRC2012_ID %d is given to two synsets (%s and %s)", label, k, wnid[k], w->str);
        wnid[k] = w->str;
    }
    return 0;
}

/* Reads the devkit tar.gz as a stream and writes into *text a valprep.sh
 * equivalent: "mv ILSVRC2012_val_%08d.JPEG WNID/" per ground-truth line. */
static int read_devkit(const char *path, char **text)
{
    *text = NULL;
    struct archive *a = archive_read_new();
    if (!a)
        return tb_fail("libarchive cannot allocate a reader");
    unsigned char *gt = NULL, *meta = NULL;
    size_t gt_size = 0, meta_size = 0;
    int rc = 0;
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int fd = tb_extract_open(a, path, 1 << 16);
    if (fd < 0)
        rc = tb_fail_prefix("the devkit");
    while (!rc && (!gt || !meta)) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = tb_fail("the devkit %s is truncated or corrupt (%s); download it again", path,
                         archive_error_string(a));
            break;
        }
        const char *name = archive_entry_pathname(e);
        if (archive_entry_filetype(e) != AE_IFREG || !name)
            continue;
        if (!strncmp(name, "./", 2))
            name += 2;
        unsigned char **dst = !strcmp(name, DEVKIT_GT) ? &gt : !strcmp(name, DEVKIT_META) ? &meta : NULL;
        if (!dst || *dst)
            continue;
        la_int64_t size = archive_entry_size(e);
        if (read_entry(a, path, name, size, dst))
            rc = -1;
        else
            *(dst == &gt ? &gt_size : &meta_size) = (size_t)size;
    }
    archive_read_free(a);
    if (fd >= 0)
        close(fd);
    if (!rc && (!gt || !meta))
        rc = tb_fail("the devkit %s has no %s; is it ILSVRC2012_devkit_t12.tar.gz?", path, !gt ? DEVKIT_GT : DEVKIT_META);
    char label[4300];
    snprintf(label, sizeof label, "%s:%s", path, DEVKIT_META);
    tb_mat_struct s = {0};
    const char *wnid[LEAF_IDS + 1] = {0};
    if (!rc && (tb_mat_read_struct(label, meta, meta_size, "synsets", &s) || leaf_wnids(label, &s, wnid)))
        rc = -1;
    /* The ground truth: one ID per line, for ILSVRC2012_val_00000001.JPEG on. */
    size_t cap = gt_size / 2 * 48 + 64, used = 0;
    char *out = rc ? NULL : malloc(cap);
    if (!rc && !out)
        rc = tb_fail("out of memory reading %s", path);
    int line_no = 0;
    for (size_t p = 0; !rc && p < gt_size;) {
        size_t q = p;
        while (q < gt_size && gt[q] != '\n')
            q++;
        size_t end = q;
        while (end > p && (gt[end - 1] == '\r' || gt[end - 1] == ' ' || gt[end - 1] == '\t'))
            end--;
        line_no++;
        long id = 0;
        size_t i = p;
        for (; i < end && gt[i] >= '0' && gt[i] <= '9' && id <= LEAF_IDS; i++)
            id = id * 10 + (gt[i] - '0');
        if (i == p || i != end || id < 1 || id > LEAF_IDS || !wnid[id]) {
            rc = i == p || i != end
                     ? tb_fail("%s:%s line %d: expected one ILSVRC2012_ID", path, DEVKIT_GT, line_no)
                     : tb_fail("%s:%s line %d: ILSVRC2012_ID %.*s names no leaf synset (1..1000) of meta.mat", path,
                               DEVKIT_GT, line_no, (int)(end - p), (const char *)gt + p);
            break;
        }
        if (cap - used < 128) {
            char *bigger = realloc(out, cap *= 2);
            if (!bigger) {
                rc = tb_fail("out of memory reading %s", path);
                break;
            }
            out = bigger;
        }
        used += (size_t)snprintf(out + used, cap - used, "mv ILSVRC2012_val_%08d.JPEG %s/\n", line_no, wnid[id]);
        p = q + 1;
    }
    if (!rc && !used)
        rc = tb_fail("%s:%s is empty", path, DEVKIT_GT);
    tb_mat_struct_free(&s);
    free(gt);
    free(meta);
    if (rc) {
        free(out);
        return -1;
    }
    *text = out;
    return 0;
}

static int prep_val(prep *pr)
{
    const tb_imagenet_prep_options *o = pr->o;
    char final[4200], partial[4200];
    snprintf(final, sizeof final, "%s/val", o->out);
    snprintf(partial, sizeof partial, "%s/.val.partial", o->out);
    if (tb_is_dir(final)) {
        printf("val: %s is complete from an earlier run; skipped\n", final);
        return 0;
    }
    val_label *labels = NULL;
    char *text = NULL;
    size_t text_size;
    int nlabels = 0, rc = 0;
    const char *src = o->devkit ? o->devkit : o->valprep;
    if (o->devkit ? read_devkit(o->devkit, &text) : tb_read_file(o->valprep, &text, &text_size))
        return -1;
    if (parse_valprep(src, text, &labels, &nlabels)) {
        free(text);
        return -1;
    }
    if (tb_rm_rf(partial) || tb_mkdir_p(partial))
        rc = -1;
    for (int i = 0; !rc && i < nlabels; i++) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/%s", partial, labels[i].wnid);
        if (!tb_is_dir(dir) && tb_mkdir_p(dir))
            rc = -1;
    }
    struct archive *a = rc ? NULL : archive_read_new();
    if (!rc && !a)
        rc = tb_fail("libarchive cannot allocate a reader");
    long images = 0;
    int fd = -1;
    if (!rc) {
        archive_read_support_format_tar(a);
        if ((fd = tb_extract_open(a, o->val_tar, 1 << 20)) < 0)
            rc = tb_fail_prefix("the validation tar");
    }
    while (!rc) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = tb_fail("the validation tar %s is truncated or corrupt after %ld images (%s); download it again",
                         o->val_tar, images, archive_error_string(a));
            break;
        }
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname(e);
        if (plain_name(o->val_tar, name)) {
            rc = -1;
            break;
        }
        val_label key = {(char *)name, NULL};
        val_label *l = bsearch(&key, labels, (size_t)nlabels, sizeof *labels, cmp_label);
        if (!l) {
            rc = tb_fail("validation image %s has no label in %s; is the list for this archive?", name, src);
            break;
        }
        unsigned char *data;
        la_int64_t size = archive_entry_size(e);
        if (read_entry(a, o->val_tar, name, size, &data)) {
            rc = -1;
            break;
        }
        if (!jpeg_ok(pr->tj, data, (size_t)size)) {
            free(data);
            rc = bad_jpeg(pr, o->val_tar, name);
            continue;
        }
        char path[4400];
        snprintf(path, sizeof path, "%s/%s/%s", partial, l->wnid, name);
        if ((rc = enqueue(pr->p, path, data, (size_t)size, NULL)))
            break;
        images++;
        progress(pr, "val", 0, images, 0);
    }
    archive_read_free(a);
    if (fd >= 0)
        close(fd);
    if (!rc)
        rc = drain(pr->p);
    if (!rc && images + pr->corrupt != nlabels)
        rc = tb_fail("the validation tar %s holds %ld images but %s labels %d; the tar is incomplete or the list "
                     "is for another archive",
                     o->val_tar, images, src, nlabels);
    if (!rc && nlabels == REAL_VAL)
        printf("val: %ld images (the full ILSVRC2012 count)\n", images);
    else if (!rc)
        printf("val: %ld images in %s\n", images, final);
    if (!rc)
        rc = tb_rename_durable(partial, final);
    free(labels);
    free(text);
    return rc;
}

int tb_imagenet_prepare(const tb_imagenet_prep_options *o)
{
    int check_train = o->train_tar && (o->verify || o->train_checksum),
        check_val = o->val_tar && (o->verify || o->val_checksum);
    if (check_train || check_val) {
        tb_checksum t, v;
        if (tb_checksum_parse(o->train_checksum ? o->train_checksum : TRAIN_MD5, &t) ||
            tb_checksum_parse(o->val_checksum ? o->val_checksum : VAL_MD5, &v))
            return tb_fail_prefix("--checksum");
        if (!o->quiet)
            fprintf(stderr, "  verifying the %s (reads the tars once more)\n",
                    o->train_checksum || o->val_checksum ? "given checksums" : "published MD5s");
        if ((check_train && tb_checksum_verify(o->train_tar, &t)) ||
            (check_val && tb_checksum_verify(o->val_tar, &v))) {
            /* With both tars, --checksum must say which one it replaces. */
            if (o->train_tar && o->val_tar) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", tb_last_error());
                return tb_fail("%s; with both tars name the one: --checksum train=ALGO:HEX or val=ALGO:HEX", msg);
            }
            return -1;
        }
    }
    if (tb_mkdir_p(o->out))
        return -1;
    pool p;
    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.work, NULL);
    pthread_cond_init(&p.space, NULL);
    pthread_cond_init(&p.idle, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = o->threads > 0 ? o->threads : cores > 2 ? (int)cores : 2;
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    int started = 0, rc = 0;
    for (; th && started < nthreads; started++)
        if (pthread_create(&th[started], NULL, writer_main, &p) != 0)
            break;
    prep pr = {o, &p, tjInitDecompress(), 0, now_s()};
    if (!th || started == 0 || !pr.tj)
        rc = tb_fail("cannot start the writer threads or TurboJPEG (out of memory?)");
    if (!rc && o->train_tar)
        rc = prep_train(&pr);
    if (!rc && o->val_tar)
        rc = prep_val(&pr);
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    if (rc && !p.failed)
        pool_fail_locked(&p, tb_last_error()); /* writers drop what is queued */
    pthread_cond_broadcast(&p.work);
    pthread_mutex_unlock(&p.mu);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tb_last_error());
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    for (cls *c = p.classes, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    if (pr.tj)
        tjDestroy(pr.tj);
    if (!rc && pr.corrupt)
        printf("skipped %ld corrupt JPEGs (use --strict to fail instead)\n", pr.corrupt);
    if (!rc)
        printf("ImageNet prepared in %s (%.1f s); train with --dataset imagenet --data-dir %s\n", o->out,
               now_s() - pr.t0, o->out);
    return rc ? tb_fail("%s", msg) : 0;
}
