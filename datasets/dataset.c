/* Dataset names, where their files live, and loading a split: finds the
 * files, hands them to the format readers and adds what the format does not
 * say (class count, normalisation constants, whether flips are allowed). */
#include "datasets/dataset.h"
#include "core/error.h" // uses: tb_fail
#include "datasets/imageset.h" // uses: tb_imageset_load_packed, tb_imageset_load_folders, tb_imageset_free

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DS_PATH 4096
#define DEBIAN_FASHION_MNIST "/usr/share/datasets/fashion-mnist"
#define SYNTHETIC_SEED 0x73796e746865ull /* + split: test holds other samples */

typedef enum { SRC_CIFAR10, SRC_CIFAR100, SRC_IDX, SRC_SYNTHETIC, SRC_FOLDERS } source;

typedef struct {
    const char *name;
    source src;
    const char *subdir; /* the archive's folder, also searched below the data dir */
    float mean[3], std[3];
    int flip_ok;
} spec;

static const spec specs[] = {
    {"cifar10", SRC_CIFAR10, "cifar-10-batches-bin", {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}, 1},
    {"cifar100", SRC_CIFAR100, "cifar-100-binary", {0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}, 1},
    {"fashion-mnist", SRC_IDX, NULL, {0.2860f, 0.2860f, 0.2860f}, {0.3530f, 0.3530f, 0.3530f}, 1},
    /* Mirrored digits are not digits. */
    {"mnist", SRC_IDX, NULL, {0.1307f, 0.1307f, 0.1307f}, {0.3081f, 0.3081f, 0.3081f}, 0},
    {"synthetic", SRC_SYNTHETIC, NULL, {0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}, 1},
    /* ILSVRC2012 as class folders (train/WNID, val/WNID): torchvision's constants. */
    {"imagenet", SRC_FOLDERS, NULL, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, 1},
};
#define PACKED_PREFIX "packed:"

static int is_packed(const char *name) { return name && !strncmp(name, PACKED_PREFIX, 7) && name[7]; }
#define NSPECS ((int)(sizeof specs / sizeof specs[0]))

const char *tb_dataset_names(void)
{
    return "cifar10, cifar100, fashion-mnist, mnist, synthetic, imagenet, packed:FILE";
}

static const spec *find_spec(const char *name)
{
    for (int i = 0; name && i < NSPECS; i++)
        if (strcmp(specs[i].name, name) == 0)
            return &specs[i];
    return NULL;
}

int tb_dataset_known(const char *name) { return find_spec(name) != NULL || is_packed(name); }

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int tb_dataset_default_dir(const char *name, char *out, size_t out_size)
{
    if (is_packed(name)) /* the file is named in the dataset itself */
        return snprintf(out, out_size, "%s", "") < 0 ? -1 : 0;
    if (!find_spec(name))
        return tb_fail("unknown dataset '%s'; choose one of %s", name ? name : "(none)", tb_dataset_names());
    int n;
    if (strcmp(name, "synthetic") == 0) /* needs no files, so no folder either */
        n = snprintf(out, out_size, "%s", "");
    else if (strcmp(name, "fashion-mnist") == 0 && is_dir(DEBIAN_FASHION_MNIST))
        n = snprintf(out, out_size, "%s", DEBIAN_FASHION_MNIST);
    else if (env("TRAINBENCH_DATA"))
        n = snprintf(out, out_size, "%s/%s", env("TRAINBENCH_DATA"), name);
    else if (env("XDG_DATA_HOME"))
        n = snprintf(out, out_size, "%s/trainbench/datasets/%s", env("XDG_DATA_HOME"), name);
    else if (env("HOME"))
        n = snprintf(out, out_size, "%s/.local/share/trainbench/datasets/%s", env("HOME"), name);
    else
        return tb_fail("no data folder for dataset %s: none of TRAINBENCH_DATA, XDG_DATA_HOME and HOME is set; "
                       "pass --data-dir DIR",
                       name);
    if (n < 0 || (size_t)n >= out_size)
        return tb_fail("data folder for dataset %s is longer than %zu bytes; pass a shorter --data-dir", name,
                       out_size);
    return 0;
}

/* Finds `base` (or base.gz for IDX files) in dir or dir/subdir. */
static int find_file(const spec *s, const char *dir, const char *base, char out[DS_PATH])
{
    const char *subs[2] = {"", s->subdir};
    const char *exts[2] = {"", s->src == SRC_IDX ? ".gz" : NULL};
    for (int d = 0; d < 2; d++)
        for (int e = 0; e < 2 && subs[d]; e++) {
            if (!exts[e])
                continue;
            snprintf(out, DS_PATH, "%s%s%s/%s%s", dir, *subs[d] ? "/" : "", subs[d], base, exts[e]);
            if (is_file(out))
                return 0;
        }
    char where[DS_PATH + 64];
    if (s->subdir)
        snprintf(where, sizeof where, "%s or %s/%s", dir, dir, s->subdir);
    else
        snprintf(where, sizeof where, "%s", dir);
    return tb_fail("dataset %s: file %s%s not found in %s; pass --data-dir DIR naming the folder that holds it%s, or "
                   "download it with `trainbench data fetch %s`",
                   s->name, base, s->src == SRC_IDX ? "[.gz]" : "", where,
                   strcmp(s->name, "fashion-mnist") == 0 ? ", install Debian's dataset-fashion-mnist package" : "",
                   s->name);
}

/* The official archives hold exactly this many records per file; a shorter
 * one that still ends on a record boundary is an incomplete download too. */
static int check_cifar_size(const spec *s, const char *path, long long records)
{
    long long record = s->src == SRC_CIFAR100 ? 3074 : 3073;
    struct stat st;
    if (stat(path, &st) == 0 && (long long)st.st_size != records * record)
        return tb_fail("dataset file %s: %lld bytes, expected %lld (%lld records of %lld bytes); the download is "
                       "incomplete or not the binary version of %s; fetch it again with `trainbench data fetch %s`",
                       path, (long long)st.st_size, records * record, records, record, s->name, s->name);
    return 0;
}

static int load_cifar(const spec *s, const char *dir, tb_split split, int limit, tb_dataset *out)
{
    static const char *const c10_train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                            "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const c10_test[] = {"test_batch.bin"};
    static const char *const c100_train[] = {"train.bin"};
    static const char *const c100_test[] = {"test.bin"};
    const int c100 = s->src == SRC_CIFAR100, train = split == TB_SPLIT_TRAIN;
    const char *const *names = c100 ? (train ? c100_train : c100_test) : (train ? c10_train : c10_test);
    const int nfiles = !c100 && train ? 5 : 1;
    const long long records = c100 && train ? 50000 : 10000;
    char paths[5][DS_PATH];
    const char *ptrs[5];
    for (int i = 0; i < nfiles; i++) {
        if (find_file(s, dir, names[i], paths[i]) || check_cifar_size(s, paths[i], records))
            return -1;
        ptrs[i] = paths[i];
    }
    return tb_cifar_read_batches(ptrs, nfiles, c100, limit, out);
}

static int load_idx(const spec *s, const char *dir, tb_split split, int limit, tb_dataset *out)
{
    const char *prefix = split == TB_SPLIT_TRAIN ? "train" : "t10k";
    char base[64], images[DS_PATH], labels[DS_PATH];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    if (find_file(s, dir, base, images))
        return -1;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    if (find_file(s, dir, base, labels))
        return -1;
    if (tb_idx_read_images(images, limit, out))
        return -1;
    if (out->height != 28 || out->width != 28)
        return tb_fail("dataset file %s: images are %dx%d, but %s images are 28x28; is it the right file?", images,
                       out->height, out->width, s->name);
    int nlabels;
    if (tb_idx_read_labels(labels, 0, &out->labels, &nlabels))
        return -1;
    if (nlabels != out->total)
        return tb_fail("dataset files %s (%d images) and %s (%d labels) do not match; one of them is damaged or "
                       "from another download; fetch them again",
                       images, out->total, labels, nlabels);
    out->classes = 10;
    return 0;
}

int tb_dataset_load(const char *name, const char *dir, tb_split split, int limit, tb_dataset *out)
{
    return tb_dataset_load_sized(name, dir, split, limit, 0, out);
}

int tb_dataset_load_sized(const char *name, const char *dir, tb_split split, int limit, int image_size,
                          tb_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (is_packed(name)) { /* self-describing: name, normalisation and flips come from the file */
        if (limit < 0)
            return tb_fail("dataset %s: limit %d is negative; use 0 for the whole split", name, limit);
        return tb_imageset_load_packed(name + 7, split, limit, out);
    }
    const spec *s = find_spec(name);
    if (!s)
        return tb_fail("unknown dataset '%s'; choose one of %s", name ? name : "(none)", tb_dataset_names());
    if (limit < 0)
        return tb_fail("dataset %s: limit %d is negative; use 0 for the whole split", name, limit);
    char dirbuf[DS_PATH];
    if (s->src != SRC_SYNTHETIC && (!dir || !*dir)) {
        if (tb_dataset_default_dir(name, dirbuf, sizeof dirbuf))
            return -1;
        dir = dirbuf;
    }
    int rc;
    if (s->src == SRC_SYNTHETIC)
        rc = tb_dataset_synthetic_sized(limit > 0 ? limit : split == TB_SPLIT_TRAIN ? 10000 : 2000, 10,
                                        image_size > 0 ? image_size : TB_SYNTHETIC_SIDE,
                                        SYNTHETIC_SEED + (uint64_t)split, out);
    else if (s->src == SRC_IDX)
        rc = load_idx(s, dir, split, limit, out);
    else if (s->src == SRC_FOLDERS)
        rc = tb_imageset_load_folders(dir, split, limit, out);
    else
        rc = load_cifar(s, dir, split, limit, out);
    if (rc) {
        tb_dataset_free(out);
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%s", s->name);
    memcpy(out->mean, s->mean, sizeof out->mean);
    memcpy(out->std, s->std, sizeof out->std);
    out->flip_ok = s->flip_ok;
    return 0;
}

void tb_dataset_free(tb_dataset *ds)
{
    if (!ds)
        return;
    free(ds->pixels);
    free(ds->labels);
    tb_imageset_free(ds->images);
    memset(ds, 0, sizeof *ds);
}
