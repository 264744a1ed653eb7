/* Class-folder and packed-file image sets. */
#include "datasets/imageset.h"
#include "core/error.h" // uses: tb_calloc, tb_fail_prefix, tb_fail, tb_malloc
#include "core/fsutil.h" // uses: tb_open_regular, tb_pathf

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "packed files are little-endian and read in place; this host is not"
#endif
_Static_assert(sizeof(tb_pack_entry) == 24, "index entries are 24 bytes on disk");
_Static_assert(sizeof(tb_pack_header) == 160, "the header layout is fixed");

struct tb_pack {
    int fd;
    const uint8_t *map;
    size_t size;
    const tb_pack_header *h;
    char path[1024];
};

struct tb_imageset {
    int count;
    /* folders */
    char *paths;      /* NUL-separated full paths */
    size_t *path_off; /* count offsets into paths */
    char **classes;
    int nclasses;
    /* packs */
    tb_pack *pack;
    const tb_pack_entry *index; /* already cut to the kept images: see `map` */
    int *map;                   /* kept image i -> index entry */
};

/* ---- packs ------------------------------------------------------------- */

tb_pack *tb_pack_open(const char *path)
{
    tb_pack *p = tb_calloc(1, sizeof *p, "packed file");
    if (!p)
        return NULL;
    snprintf(p->path, sizeof p->path, "%s", path);
    p->fd = tb_open_regular(path, 0); /* a FIFO or device is refused, not waited on */
    struct stat st;
    if (p->fd < 0) {
        tb_fail_prefix("packed file");
        goto fail;
    }
    if (fstat(p->fd, &st) != 0) {
        tb_fail("packed file %s: cannot stat it: %s", path, strerror(errno));
        goto fail;
    }
    p->size = (size_t)st.st_size;
    if (p->size < TB_PACK_HEADER) {
        tb_fail("packed file %s: %zu bytes is too short for a header; the file is truncated", path, p->size);
        goto fail;
    }
    void *m = mmap(NULL, p->size, PROT_READ, MAP_SHARED, p->fd, 0);
    if (m == MAP_FAILED) {
        tb_fail("packed file %s: mmap failed: %s", path, strerror(errno));
        goto fail;
    }
    p->map = m;
    madvise(m, p->size, MADV_RANDOM); /* random access: no large readahead */
    p->h = (const tb_pack_header *)p->map;
    const tb_pack_header *h = p->h;
    if (memcmp(h->magic, TB_PACK_MAGIC, 8) != 0) {
        tb_fail("%s is not a trainbench packed file (bad magic); make one with `trainbench data pack`", path);
        goto fail;
    }
    if (h->version != TB_PACK_VERSION) {
        tb_fail("packed file %s: format version %u, this trainbench reads version %u; pack the data again", path,
                h->version, TB_PACK_VERSION);
        goto fail;
    }
    if (h->file_size != p->size) {
        tb_fail("packed file %s: %zu bytes, its header says %llu; the file is truncated or was being written", path,
                p->size, (unsigned long long)h->file_size);
        goto fail;
    }
    if ((h->kind != TB_PACK_KIND_JPEG && h->kind != TB_PACK_KIND_RAW) || h->classes < 1 || h->classes > 1000000 ||
        h->channels < 1 || h->channels > 3 ||
        (h->kind == TB_PACK_KIND_RAW && (h->height < 1 || h->width < 1 || h->height > 4096 || h->width > 4096))) {
        tb_fail("packed file %s: implausible header (kind %u, %u classes, %u channels, %ux%u); the file is corrupt",
                path, h->kind, h->classes, h->channels, h->width, h->height);
        goto fail;
    }
    for (int s = 0; s < 2; s++) {
        uint64_t n = h->count[s], off = h->index_offset[s];
        if (n > (1u << 30) || off > p->size || n * sizeof(tb_pack_entry) > p->size - off || off % 8) {
            tb_fail("packed file %s: the %s index lies outside the file; the file is corrupt", path,
                    s ? "test" : "train");
            goto fail;
        }
        const tb_pack_entry *e = (const tb_pack_entry *)(p->map + off);
        for (uint64_t i = 0; i < n; i++)
            if (e[i].offset < h->data_offset || e[i].offset > p->size || e[i].size > p->size - e[i].offset ||
                e[i].label < 0 || (uint32_t)e[i].label >= h->classes) {
                tb_fail("packed file %s: %s image %llu has a bad index entry (offset %llu, %u bytes, label %d); "
                        "the file is corrupt",
                        path, s ? "test" : "train", (unsigned long long)i, (unsigned long long)e[i].offset,
                        e[i].size, e[i].label);
                goto fail;
            }
    }
    return p;
fail:
    tb_pack_close(p);
    return NULL;
}

void tb_pack_close(tb_pack *p)
{
    if (!p)
        return;
    if (p->map)
        munmap((void *)p->map, p->size);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

const tb_pack_header *tb_pack_info(const tb_pack *p) { return p->h; }

const tb_pack_entry *tb_pack_index(const tb_pack *p, tb_split split)
{
    return (const tb_pack_entry *)(p->map + p->h->index_offset[split == TB_SPLIT_TRAIN ? 0 : 1]);
}

const uint8_t *tb_pack_bytes(const tb_pack *p, const tb_pack_entry *e) { return p->map + e->offset; }

/* ---- folders ----------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in `dir`: sub-folders (want_dirs) or JPEG files. */
static int list_dir(const char *dir, int want_dirs, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return tb_fail("cannot read folder %s: %s", dir, strerror(errno));
    int cap = 0;
    char **v = NULL;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') /* hidden, and the .partial folders of an unfinished preparation */
            continue;
        int is_dir;
        if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
            char p[4600];
            struct stat st;
            tb_pathf(p, sizeof p, "%s/%s", dir, e->d_name);
            is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        } else {
            is_dir = e->d_type == DT_DIR;
        }
        if (want_dirs != is_dir)
            continue;
        if (!want_dirs) {
            const char *dot = strrchr(e->d_name, '.');
            if (!dot || (strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg")))
                continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            char **bigger = realloc(v, sizeof *v * (size_t)cap);
            if (!bigger) {
                rc = tb_fail("out of memory listing %s", dir);
                break;
            }
            v = bigger;
        }
        if (!(v[*n] = strdup(e->d_name))) {
            rc = tb_fail("out of memory listing %s", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc) {
        for (int i = 0; i < *n; i++)
            free(v[i]);
        free(v);
        *n = 0;
        return -1;
    }
    qsort(v, (size_t)*n, sizeof *v, cmp_str);
    *out = v;
    return 0;
}

static void free_names(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void tb_imageset_free(tb_imageset *s)
{
    if (!s)
        return;
    free(s->paths);
    free(s->path_off);
    free_names(s->classes, s->nclasses);
    tb_pack_close(s->pack);
    free(s->map);
    free(s);
}

/* Kept image k of n (evenly spread when limit < total). */
static int spread(int k, int kept, int total) { return kept == total ? k : (int)((long long)k * total / kept); }

int tb_imageset_load_folders(const char *dir, tb_split split, int limit, tb_dataset *out)
{
    memset(out, 0, sizeof *out);
    char train[4200], sdir[4200];
    snprintf(train, sizeof train, "%s/train", dir);
    snprintf(sdir, sizeof sdir, "%s/%s", dir, split == TB_SPLIT_TRAIN ? "train" : "val");
    tb_imageset *s = tb_calloc(1, sizeof *s, "image set");
    if (!s)
        return -1;
    char **classes = NULL, **files = NULL;
    int nclasses = 0, nfiles = 0, rc = 0;
    int32_t *labels = NULL;
    size_t cap = 0, used = 0, pcap = 0;
    if (list_dir(train, 1, &classes, &nclasses)) {
        rc = tb_fail_prefix("dataset imagenet: expected class folders in %s (prepare them with `trainbench data "
                            "imagenet`, or pass --data-dir)",
                            train);
        goto done;
    }
    if (nclasses < 1) {
        rc = tb_fail("dataset imagenet: %s holds no class folders; prepare it with `trainbench data imagenet`", train);
        goto done;
    }
    s->classes = classes;
    s->nclasses = nclasses;
    char **split_classes = NULL;
    int nsplit = 0;
    if (list_dir(sdir, 1, &split_classes, &nsplit)) {
        rc = tb_fail_prefix("dataset imagenet");
        goto done;
    }
    for (int c = 0; !rc && c < nsplit; c++) {
        char **hit = bsearch(&split_classes[c], classes, (size_t)nclasses, sizeof *classes, cmp_str);
        if (!hit) {
            rc = tb_fail("dataset imagenet: %s/%s is not a class of %s; the folders do not match", sdir,
                         split_classes[c], train);
            break;
        }
        int label = (int)(hit - classes);
        char cdir[4600];
        snprintf(cdir, sizeof cdir, "%s/%s", sdir, split_classes[c]);
        if (list_dir(cdir, 0, &files, &nfiles)) {
            rc = -1;
            break;
        }
        for (int f = 0; !rc && f < nfiles; f++) {
            size_t len = strlen(cdir) + 1 + strlen(files[f]) + 1;
            if (used + len > cap) {
                cap = (used + len) * 2;
                char *b = realloc(s->paths, cap);
                if (!b) {
                    rc = tb_fail("out of memory listing %s", cdir);
                    break;
                }
                s->paths = b;
            }
            if ((size_t)s->count == pcap) {
                pcap = pcap ? pcap * 2 : 4096;
                size_t *po = realloc(s->path_off, sizeof *po * pcap);
                int32_t *lb = po ? realloc(labels, sizeof *lb * pcap) : NULL;
                if (po)
                    s->path_off = po;
                if (lb)
                    labels = lb;
                if (!po || !lb) {
                    rc = tb_fail("out of memory listing %s", cdir);
                    break;
                }
            }
            s->path_off[s->count] = used;
            labels[s->count] = label;
            used += (size_t)snprintf(s->paths + used, cap - used, "%s/%s", cdir, files[f]) + 1;
            s->count++;
        }
        free_names(files, nfiles);
        files = NULL;
    }
    free_names(split_classes, nsplit);
    if (!rc && s->count == 0)
        rc = tb_fail("dataset imagenet: no JPEG files under %s", sdir);
    if (rc)
        goto done;
    out->total = s->count;
    out->count = limit > 0 && limit < s->count ? limit : s->count;
    if (out->count < s->count) {
        /* Keep an even spread so every class stays represented. */
        for (int k = 0; k < out->count; k++) {
            int i = spread(k, out->count, s->count);
            s->path_off[k] = s->path_off[i];
            labels[k] = labels[i];
        }
        s->count = out->count;
    }
    out->labels = labels;
    labels = NULL;
    out->classes = nclasses;
    out->channels = 3;
    out->images = s;
    s = NULL;
done:
    free(labels);
    tb_imageset_free(s);
    return rc;
}

int tb_imageset_load_packed(const char *path, tb_split split, int limit, tb_dataset *out)
{
    memset(out, 0, sizeof *out);
    tb_pack *p = tb_pack_open(path);
    if (!p)
        return -1;
    const tb_pack_header *h = tb_pack_info(p);
    const int si = split == TB_SPLIT_TRAIN ? 0 : 1;
    const int total = (int)h->count[si];
    if (total < 1) {
        tb_pack_close(p);
        return tb_fail("packed file %s holds no %s images", path, si ? "test" : "train");
    }
    const int kept = limit > 0 && limit < total ? limit : total;
    const tb_pack_entry *idx = tb_pack_index(p, split);
    out->total = total;
    out->count = kept;
    out->classes = (int)h->classes;
    out->channels = (int)h->channels;
    snprintf(out->name, sizeof out->name, "%.31s", h->name);
    memcpy(out->mean, h->mean, sizeof out->mean);
    memcpy(out->std, h->std, sizeof out->std);
    out->flip_ok = (int)h->flip_ok;
    out->labels = tb_malloc(sizeof *out->labels * (size_t)kept, "dataset labels");
    if (!out->labels) {
        tb_pack_close(p);
        return -1;
    }
    if (h->kind == TB_PACK_KIND_RAW) {
        /* Small images: the first `kept` as the in-memory datasets do. */
        const size_t image = (size_t)h->channels * h->height * h->width;
        out->height = (int)h->height;
        out->width = (int)h->width;
        /* Every pixel must be in the file: refuse a header that would make us
         * allocate more than the file could hold. */
        if (image * (size_t)kept > p->size) {
            tb_fail("packed file %s: %d raw images of %zu bytes cannot fit in its %zu bytes; the file is corrupt",
                    path, kept, image, p->size);
            tb_pack_close(p);
            tb_dataset_free(out);
            return -1;
        }
        out->pixels = tb_malloc(image * (size_t)kept, "dataset pixels");
        for (int i = 0; out->pixels && i < kept; i++) {
            if (idx[i].size != image) {
                tb_fail("packed file %s: raw image %d has %u bytes, expected %zu; the file is corrupt", path, i,
                        idx[i].size, image);
                free(out->pixels);
                out->pixels = NULL;
                break;
            }
            memcpy(out->pixels + image * i, tb_pack_bytes(p, &idx[i]), image);
            out->labels[i] = idx[i].label;
        }
        tb_pack_close(p);
        if (!out->pixels) {
            tb_dataset_free(out);
            return -1;
        }
        return 0;
    }
    tb_imageset *s = tb_calloc(1, sizeof *s, "image set");
    int *map = tb_malloc(sizeof *map * (size_t)kept, "image map");
    if (!s || !map) {
        free(s);
        free(map);
        tb_pack_close(p);
        tb_dataset_free(out);
        return -1;
    }
    for (int k = 0; k < kept; k++) {
        map[k] = spread(k, kept, total);
        out->labels[k] = idx[map[k]].label;
    }
    s->pack = p;
    s->index = idx;
    s->map = map;
    s->count = kept;
    out->images = s;
    return 0;
}

int tb_imageset_get(const tb_imageset *s, int i, uint8_t **buf, size_t *cap, const uint8_t **data, size_t *size,
                    char *what, size_t what_size)
{
    if (i < 0 || i >= s->count)
        return tb_fail("image %d asked for, but the set holds %d", i, s->count);
    if (s->pack) {
        const tb_pack_entry *e = &s->index[s->map[i]];
        *data = tb_pack_bytes(s->pack, e);
        *size = e->size;
        snprintf(what, what_size, "%s image %d", s->pack->path, s->map[i]);
        return 0;
    }
    const char *path = s->paths + s->path_off[i];
    snprintf(what, what_size, "%s", path);
    int fd = tb_open_regular(path, 0);
    if (fd < 0)
        return tb_fail_prefix("cannot read an image");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tb_fail("cannot read image %s: %s", path, strerror(e));
    }
    size_t n = (size_t)st.st_size;
    if (n > *cap) {
        uint8_t *b = realloc(*buf, n);
        if (!b) {
            close(fd);
            return tb_fail("out of memory reading image %s (%zu bytes)", path, n);
        }
        *buf = b;
        *cap = n;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, *buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            close(fd);
            return tb_fail("cannot read image %s: %s", path, r < 0 ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    *data = *buf;
    *size = n;
    return 0;
}

const char *tb_imageset_class_name(const tb_imageset *s, int k)
{
    return s->classes && k >= 0 && k < s->nclasses ? s->classes[k] : NULL;
}
