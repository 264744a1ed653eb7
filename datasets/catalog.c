/* `trainbench data fetch NAME`: the published files of each dataset, their
 * checksums, and laying a verified copy out where `trainbench train` looks.
 *
 * Order of work, so that nothing good is ever replaced by something bad:
 * download into ROOT/.downloads (resumable .part), verify the checksum (a
 * mismatch moves the file aside as .bad), extract or copy into a fresh
 * ROOT/.NAME.tmp-XXXXXX, write the stamp file, then rename into ROOT/NAME.
 * The stamp (.trainbench-fetched) lists the verified sums; a folder with a
 * matching stamp is not fetched again. */
#include "datasets/catalog.h"
#include "core/error.h" // uses: tb_fail, tb_last_error, tb_fail_prefix
#include "core/fsutil.h" // uses: tb_is_file, tb_pathf, tb_is_dir, tb_rm_rf, tb_rename_durable, tb_read_file, ...
#include "datasets/checksum.h" // uses: tb_checksum, tb_checksum_verify, tb_checksum_parse
#include "datasets/download.h" // uses: tb_download_options, tb_download_url
#include "datasets/extract.h" // uses: tb_extract_check_tree, tb_extract_archive

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAMP ".trainbench-fetched"
#define DEBIAN_FASHION_MNIST "/usr/share/datasets/fashion-mnist"

typedef struct {
    const char *file, *sum;
    long long max_mb; /* a download past this is cut off: the published file with a margin */
} remote_file;

typedef struct {
    const char *name, *base_url;
    int archive; /* 1: one archive to extract; 0: files used as they are */
    int nfiles;
    remote_file files[4];
} source;

/* Sums as published by the dataset authors (CIFAR) and used by torchvision
 * (MNIST, Fashion-MNIST).  yann.lecun.com refuses scripted downloads, so
 * MNIST comes from PyTorch's copy of the same files. */
static const source sources[] = {
    {"cifar10", "https://www.cs.toronto.edu/~kriz", 1, 1,
     {{"cifar-10-binary.tar.gz", "md5:c32a1d4ab5d03f1284b67883e8d87530", 200}}},
    {"cifar100", "https://www.cs.toronto.edu/~kriz", 1, 1,
     {{"cifar-100-binary.tar.gz", "md5:03b5dce01913d631647c71ecec9e9cb8", 200}}},
    {"mnist", "https://ossci-datasets.s3.amazonaws.com/mnist", 0, 4,
     {{"train-images-idx3-ubyte.gz", "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873", 16},
      {"train-labels-idx1-ubyte.gz", "md5:d53e105ee54ea40749a09fcbcd1e9432", 1},
      {"t10k-images-idx3-ubyte.gz", "md5:9fb629c4189551a2d022fa330f9573f3", 4},
      {"t10k-labels-idx1-ubyte.gz", "md5:ec29112dd5afa0611ce80d1b7f02629c", 1}}},
    {"fashion-mnist", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com", 0, 4,
     {{"train-images-idx3-ubyte.gz", "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d", 40},
      {"train-labels-idx1-ubyte.gz", "md5:25c81989df183df01b3e8a0aad5dffbe", 1},
      {"t10k-images-idx3-ubyte.gz", "md5:bef4ecab320f06d8554ea6380940ec79", 8},
      {"t10k-labels-idx1-ubyte.gz", "md5:bb300cfdad3c16e7a12a480ee83cd310", 1}}},
};
#define NSOURCES ((int)(sizeof sources / sizeof sources[0]))

static int default_root(char *out, size_t n)
{
    const char *v;
    if ((v = getenv("TRAINBENCH_DATA")) && *v)
        snprintf(out, n, "%s", v);
    else if ((v = getenv("XDG_DATA_HOME")) && *v)
        snprintf(out, n, "%s/trainbench/datasets", v);
    else if ((v = getenv("HOME")) && *v)
        snprintf(out, n, "%s/.local/share/trainbench/datasets", v);
    else
        return tb_fail("no datasets root: none of TRAINBENCH_DATA, XDG_DATA_HOME and HOME is set; pass --root DIR");
    return 0;
}

/* The stamp text for these sums: one "ALGO:HEX FILE" line per file. */
static void stamp_text(const source *s, const tb_checksum *sums, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < s->nfiles && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s:%s %s\n", sums[i].algo, sums[i].hex, s->files[i].file);
}

/* Downloads (or takes from --from) file i, verified, into `path`. */
static int get_file(const source *s, int i, const tb_checksum *sum, const tb_catalog_options *o,
                    const char *downloads, char *path, size_t n, int *is_local)
{
    const char *file = s->files[i].file;
    *is_local = 0;
    if (o->from) {
        /* CIFAR: --from is the archive; IDX: the folder holding the .gz files. */
        if (s->archive)
            snprintf(path, n, "%s", o->from);
        else
            snprintf(path, n, "%s/%s", o->from, file);
        if (!tb_is_file(path))
            return tb_fail("--from: %s is not a readable file", path);
        *is_local = 1;
        fprintf(stderr, "  verifying %s\n", path);
        return tb_checksum_verify(path, sum);
    }
    snprintf(path, n, "%s/%s", downloads, file);
    if (tb_is_file(path)) { /* a finished download from an earlier run */
        if (tb_checksum_verify(path, sum) == 0)
            return 0;
        fprintf(stderr, "  %s; downloading it again\n", tb_last_error());
        if (unlink(path) != 0)
            return tb_fail("cannot remove %s: %s", path, strerror(errno));
    }
    char url[4096];
    const char *base = o->mirror ? o->mirror : s->base_url;
    size_t blen = strlen(base);
    snprintf(url, sizeof url, "%s%s%s", base, blen && base[blen - 1] == '/' ? "" : "/", file);
    if (!o->fetch.quiet)
        fprintf(stderr, "  downloading %s\n", url);
    tb_download_options fetch = o->fetch;
    long long limit = s->files[i].max_mb << 20;
    if (fetch.max_bytes <= 0 || fetch.max_bytes > limit)
        fetch.max_bytes = limit;
    if (tb_download_url(url, path, &fetch))
        return -1;
    if (tb_checksum_verify(path, sum) == 0)
        return 0;
    /* Keep the bad bytes for inspection, out of the way of the next try. */
    char bad[4200], msg[1024];
    snprintf(msg, sizeof msg, "%s", tb_last_error());
    tb_pathf(bad, sizeof bad, "%s.bad", path);
    if (rename(path, bad) != 0)
        unlink(path);
    return tb_fail("%s; the download was moved aside to %s and the dataset folder was not touched", msg, bad);
}

/* Moves the finished temporary folder into place, replacing an old copy
 * only once the new one is complete. */
static int install(const char *tmp, const char *dest, const char *root, const char *name)
{
    char old[4200] = "";
    if (tb_is_dir(dest)) {
        snprintf(old, sizeof old, "%s/.%s.old-%ld", root, name, (long)getpid());
        if (tb_rm_rf(old) || rename(dest, old) != 0)
            return tb_fail("cannot move the old %s aside to %s: %s", dest, old, strerror(errno));
    }
    if (tb_rename_durable(tmp, dest)) {
        if (old[0])
            rename(old, dest);
        return -1;
    }
    if (old[0] && tb_rm_rf(old))
        fprintf(stderr, "  warning: %s; remove it by hand\n", tb_last_error());
    return 0;
}

int tb_catalog_fetch(const char *name, const tb_catalog_options *o)
{
    if (name && strcmp(name, "synthetic") == 0)
        return tb_fail("dataset synthetic is generated in memory and needs no download");
    if (name && strcmp(name, "imagenet") == 0)
        return tb_fail("ImageNet cannot be downloaded without an account: download ILSVRC2012_img_train.tar and "
                       "ILSVRC2012_img_val.tar from image-net.org, then run `trainbench data imagenet`");
    const source *s = NULL;
    for (int i = 0; i < NSOURCES; i++)
        if (name && strcmp(sources[i].name, name) == 0)
            s = &sources[i];
    if (!s)
        return tb_fail("unknown dataset '%s'; fetch one of cifar10, cifar100, fashion-mnist, mnist",
                       name ? name : "");
    if (!strcmp(name, "fashion-mnist") && !o->root && !o->mirror && !o->from && tb_is_dir(DEBIAN_FASHION_MNIST)) {
        printf("fashion-mnist: using Debian's %s (package dataset-fashion-mnist); nothing to download\n",
               DEBIAN_FASHION_MNIST);
        return 0;
    }
    if (o->checksum && !s->archive)
        return tb_fail("--checksum replaces the sum of a single-archive dataset (cifar10, cifar100); the four %s "
                       "files are checked against their published MD5s",
                       name);
    tb_checksum sums[4];
    for (int i = 0; i < s->nfiles; i++)
        if (tb_checksum_parse(o->checksum ? o->checksum : s->files[i].sum, &sums[i]))
            return o->checksum ? tb_fail_prefix("--checksum") : -1;

    char root[4096], dest[4200], stamp[4300], downloads[4200], tmp[4300];
    if (o->root)
        snprintf(root, sizeof root, "%s", o->root);
    else if (default_root(root, sizeof root))
        return -1;
    snprintf(dest, sizeof dest, "%s/%s", root, name);
    snprintf(stamp, sizeof stamp, "%s/%s", dest, STAMP);
    char want[1024];
    stamp_text(s, sums, want, sizeof want);
    char *have = NULL;
    size_t have_len;
    int trusted = tb_is_file(stamp);
    /* A copy holding a link (an older trainbench installed them) is not trusted, nor its stamp read: it is
     * fetched again and replaced. */
    if (trusted && tb_extract_check_tree(dest) != 0) {
        fprintf(stderr, "  %s; fetching %s again\n", tb_last_error(), name);
        trusted = 0;
    }
    if (trusted && tb_read_file(stamp, &have, &have_len) == 0) {
        int same = strcmp(have, want) == 0;
        free(have);
        if (same) {
            printf("%s: already fetched and verified in %s\n", name, dest);
            return 0;
        }
    }
    snprintf(downloads, sizeof downloads, "%s/.downloads", root);
    if (tb_mkdir_p(downloads))
        return -1;
    char paths[4][4300];
    int local[4];
    for (int i = 0; i < s->nfiles; i++)
        if (get_file(s, i, &sums[i], o, downloads, paths[i], sizeof paths[i], &local[i]))
            return -1;

    snprintf(tmp, sizeof tmp, "%s/.%s.tmp-XXXXXX", root, name);
    if (!mkdtemp(tmp))
        return tb_fail("cannot create a temporary folder in %s: %s", root, strerror(errno));
    int rc = 0;
    if (s->archive) {
        if (!o->fetch.quiet)
            fprintf(stderr, "  extracting %s\n", paths[0]);
        rc = tb_extract_archive(paths[0], tmp);
    } else {
        for (int i = 0; i < s->nfiles && !rc; i++) {
            char to[4400];
            snprintf(to, sizeof to, "%s/%s", tmp, s->files[i].file);
            rc = tb_copy_file(paths[i], to);
        }
    }
    char stamp_tmp[4400];
    snprintf(stamp_tmp, sizeof stamp_tmp, "%s/%s", tmp, STAMP);
    if (!rc)
        rc = tb_extract_check_tree(tmp);
    /* A new file (O_EXCL, never through a link): an archive entry of the stamp's name is an error. */
    if (!rc)
        rc = tb_write_file(stamp_tmp, want, strlen(want), 0);
    if (!rc)
        rc = install(tmp, dest, root, name);
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        tb_rm_rf(tmp);
        return tb_fail("%s: %s (nothing was installed; %s is as it was)", name, msg, dest);
    }
    /* The verified download has served its purpose: the stamp records its sum. */
    for (int i = 0; i < s->nfiles; i++)
        if (!local[i])
            unlink(paths[i]);
    printf("%s: fetched, verified (%s) and installed in %s\n", name, sums[0].algo, dest);
    return 0;
}
