/* `trainbench data`: fetch, imagenet, pack, synth. */
#include "app/cli.h" // uses: tb_cli_data

#include "core/error.h" // uses: tb_fail, tb_last_error, tb_fail_prefix
#include "datasets/catalog.h" // uses: tb_catalog_options, tb_catalog_fetch
#include "datasets/checksum.h" // uses: tb_checksum, tb_checksum_parse
#include "datasets/download.h" // uses: tb_download_options_defaults
#include "datasets/imagenet_prep.h" // uses: tb_imagenet_prep_options, tb_imagenet_prepare
#include "datasets/pack.h" // uses: tb_pack_options, tb_pack_write
#include "datasets/standin_archives.h" // uses: tb_standin_cifar10, tb_standin_imagenet

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage:\n"
            "  trainbench data fetch cifar10|cifar100|fashion-mnist|mnist [--root DIR] [--mirror URL]\n"
            "                        [--from FILE|DIR] [--checksum md5:HEX|sha256:HEX] [--stall-timeout S] [--quiet]\n"
            "  trainbench data imagenet --train-tar F --val-tar F (--devkit F | --valprep F) --out DIR\n"
            "                        [--threads N] [--verify] [--checksum [train=|val=]md5:HEX] [--strict] [--quiet]\n"
            "  trainbench data pack SRC --out FILE [--max-side N] [--quality Q] [--data-dir DIR] [--threads N]\n"
            "  trainbench data synth cifar10|imagenet --out DIR [--classes N] [--per-class N] [--val-per-class N]\n"
            "                        [--seed N]\n\n"
            "fetch downloads (resumable), verifies the published checksum and installs a dataset where\n"
            "`trainbench train --dataset NAME` finds it ($TRAINBENCH_DATA/NAME or\n"
            "~/.local/share/trainbench/datasets/NAME).  imagenet turns the ILSVRC2012 tars into\n"
            "OUT/train/WNID/*.JPEG and OUT/val/WNID/*.JPEG.  pack writes a packed file for\n"
            "--dataset packed:FILE (docs/packed-format.md).  synth makes stand-in archives for tests.\n");
}

/* Option scanning shared by the subcommands: "--name value" or "--name=value". */
typedef struct {
    int argc, i;
    char **argv;
    const char *name, *value;
    char buf[64];
} args;

static int next_opt(args *a)
{
    if (a->i >= a->argc)
        return 0;
    const char *s = a->argv[a->i++];
    a->value = NULL;
    if (strncmp(s, "--", 2) != 0) {
        a->name = NULL;
        a->value = s;
        return 1;
    }
    const char *eq = strchr(s, '=');
    if (eq) {
        snprintf(a->buf, sizeof a->buf, "%.*s", (int)(eq - s - 2), s + 2);
        a->value = eq + 1;
    } else {
        snprintf(a->buf, sizeof a->buf, "%s", s + 2);
    }
    a->name = a->buf;
    return 1;
}

static const char *need_value(args *a)
{
    if (a->value)
        return a->value;
    if (a->i >= a->argc) {
        tb_fail("--%s needs a value", a->name);
        return NULL;
    }
    return a->argv[a->i++];
}

static int int_value(args *a, int lo, int hi, int *out)
{
    const char *v = need_value(a);
    if (!v)
        return -1;
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi)
        return tb_fail("--%s %s: expected an integer from %d to %d", a->name, v, lo, hi);
    *out = (int)x;
    return 0;
}

static int bad_usage(const char *cmd)
{
    fprintf(stderr, "trainbench data %s: %s\n", cmd, tb_last_error());
    return 2;
}

static int failed(const char *cmd)
{
    fprintf(stderr, "trainbench data %s: %s\n", cmd, tb_last_error());
    return 1;
}

static int cmd_fetch(args *a)
{
    tb_catalog_options o = {0};
    tb_download_options_defaults(&o.fetch);
    const char *name = NULL;
    while (next_opt(a)) {
        int rc = 0, t = 0;
        if (!a->name && !name)
            name = a->value;
        else if (!a->name)
            rc = tb_fail("unexpected argument '%s'", a->value);
        else if (!strcmp(a->name, "root"))
            rc = !(o.root = need_value(a));
        else if (!strcmp(a->name, "mirror"))
            rc = !(o.mirror = need_value(a));
        else if (!strcmp(a->name, "from"))
            rc = !(o.from = need_value(a));
        else if (!strcmp(a->name, "checksum"))
            rc = !(o.checksum = need_value(a));
        else if (!strcmp(a->name, "stall-timeout")) {
            rc = int_value(a, 1, 86400, &t);
            o.fetch.stall_timeout_s = t;
        } else if (!strcmp(a->name, "quiet"))
            o.fetch.quiet = 1;
        else
            rc = tb_fail("unknown option '--%s' (see trainbench data --help)", a->name);
        if (rc)
            return bad_usage("fetch");
    }
    if (!name) {
        tb_fail("which dataset? cifar10, cifar100, fashion-mnist or mnist");
        return bad_usage("fetch");
    }
    static const char *const known[] = {"cifar10", "cifar100", "fashion-mnist", "mnist", "imagenet", "synthetic"};
    int ok = 0;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        ok |= !strcmp(name, known[k]);
    if (!ok) {
        tb_fail("unknown dataset '%s'; fetch one of cifar10, cifar100, fashion-mnist, mnist", name);
        return bad_usage("fetch");
    }
    if (o.checksum && (!strcmp(name, "mnist") || !strcmp(name, "fashion-mnist"))) {
        tb_fail("--checksum replaces the sum of a single-archive dataset (cifar10, cifar100); the four %s files are "
                "checked against their published MD5s",
                name);
        return bad_usage("fetch");
    }
    if (o.mirror && o.from) {
        tb_fail("--mirror and --from exclude each other");
        return bad_usage("fetch");
    }
    tb_checksum c;
    if (o.checksum && tb_checksum_parse(o.checksum, &c)) {
        tb_fail_prefix("--checksum");
        return bad_usage("fetch");
    }
    return tb_catalog_fetch(name, &o) ? failed("fetch") : 0;
}

/* --checksum [train=|val=]md5:HEX: replaces a tar's published sum (the one
 * tar given, or the one named), as `data fetch --checksum` does. */
static int imagenet_sums(tb_imagenet_prep_options *o, const char *const *sums, int n)
{
    for (int i = 0; i < n; i++) {
        const char *spec = sums[i], **slot;
        if (!strncmp(spec, "train=", 6)) {
            slot = &o->train_checksum;
            spec += 6;
        } else if (!strncmp(spec, "val=", 4)) {
            slot = &o->val_checksum;
            spec += 4;
        } else if (o->train_tar && o->val_tar)
            return tb_fail("--checksum %s: two tars are given; say which: --checksum train=%s or val=%s", spec, spec,
                           spec);
        else
            slot = o->train_tar ? &o->train_checksum : &o->val_checksum;
        tb_checksum c;
        if (tb_checksum_parse(spec, &c))
            return tb_fail_prefix("--checksum");
        if (*slot)
            return tb_fail("--checksum %s: that tar already has --checksum %s", sums[i], *slot);
        if ((slot == &o->train_checksum && !o->train_tar) || (slot == &o->val_checksum && !o->val_tar))
            return tb_fail("--checksum %s: no --%s-tar is given", sums[i],
                           slot == &o->train_checksum ? "train" : "val");
        *slot = spec;
    }
    return 0;
}

static int cmd_imagenet(args *a)
{
    tb_imagenet_prep_options o = {0};
    const char *sums[2];
    int nsums = 0;
    while (next_opt(a)) {
        int rc = 0;
        if (!a->name)
            rc = tb_fail("unexpected argument '%s'", a->value);
        else if (!strcmp(a->name, "train-tar"))
            rc = !(o.train_tar = need_value(a));
        else if (!strcmp(a->name, "val-tar"))
            rc = !(o.val_tar = need_value(a));
        else if (!strcmp(a->name, "devkit"))
            rc = !(o.devkit = need_value(a));
        else if (!strcmp(a->name, "valprep"))
            rc = !(o.valprep = need_value(a));
        else if (!strcmp(a->name, "out"))
            rc = !(o.out = need_value(a));
        else if (!strcmp(a->name, "threads"))
            rc = int_value(a, 1, 256, &o.threads);
        else if (!strcmp(a->name, "verify"))
            o.verify = 1;
        else if (!strcmp(a->name, "checksum")) {
            if (nsums == 2)
                rc = tb_fail("--checksum: at most two, train=ALGO:HEX and val=ALGO:HEX");
            else
                rc = !(sums[nsums++] = need_value(a));
        }
        else if (!strcmp(a->name, "strict"))
            o.strict = 1;
        else if (!strcmp(a->name, "quiet"))
            o.quiet = 1;
        else
            rc = tb_fail("unknown option '--%s' (see trainbench data --help)", a->name);
        if (rc)
            return bad_usage("imagenet");
    }
    if (!o.out || (!o.train_tar && !o.val_tar))
        tb_fail("needs --out DIR and --train-tar F and/or --val-tar F");
    else if (o.val_tar && !o.devkit == !o.valprep)
        tb_fail("--val-tar needs exactly one of --devkit F and --valprep F (the validation labels)");
    else if (!imagenet_sums(&o, sums, nsums))
        return tb_imagenet_prepare(&o) ? failed("imagenet") : 0;
    return bad_usage("imagenet");
}

static int cmd_pack(args *a)
{
    tb_pack_options o = {0};
    o.quality = 90;
    o.max_side = 512;
    while (next_opt(a)) {
        int rc = 0;
        if (!a->name && !o.src)
            o.src = a->value;
        else if (!a->name)
            rc = tb_fail("unexpected argument '%s'", a->value);
        else if (!strcmp(a->name, "out"))
            rc = !(o.out = need_value(a));
        else if (!strcmp(a->name, "data-dir"))
            rc = !(o.data_dir = need_value(a));
        else if (!strcmp(a->name, "max-side"))
            rc = int_value(a, 0, 65535, &o.max_side);
        else if (!strcmp(a->name, "quality"))
            rc = int_value(a, 1, 100, &o.quality);
        else if (!strcmp(a->name, "threads"))
            rc = int_value(a, 1, 256, &o.threads);
        else if (!strcmp(a->name, "quiet"))
            o.quiet = 1;
        else
            rc = tb_fail("unknown option '--%s' (see trainbench data --help)", a->name);
        if (rc)
            return bad_usage("pack");
    }
    if (!o.src || !o.out) {
        tb_fail("needs SRC (a class-folder tree with train/ and val/, or a dataset name) and --out FILE");
        return bad_usage("pack");
    }
    return tb_pack_write(&o) ? failed("pack") : 0;
}

static int cmd_synth(args *a)
{
    const char *what = NULL, *out = NULL;
    int classes = 10, per_class = -1, val_per_class = -1, seed = 1;
    while (next_opt(a)) {
        int rc = 0;
        if (!a->name && !what)
            what = a->value;
        else if (!a->name)
            rc = tb_fail("unexpected argument '%s'", a->value);
        else if (!strcmp(a->name, "out"))
            rc = !(out = need_value(a));
        else if (!strcmp(a->name, "classes"))
            rc = int_value(a, 1, 1000, &classes);
        else if (!strcmp(a->name, "per-class"))
            rc = int_value(a, 1, 100000, &per_class);
        else if (!strcmp(a->name, "val-per-class"))
            rc = int_value(a, 1, 100000, &val_per_class);
        else if (!strcmp(a->name, "seed"))
            rc = int_value(a, 0, 1 << 30, &seed);
        else
            rc = tb_fail("unknown option '--%s' (see trainbench data --help)", a->name);
        if (rc)
            return bad_usage("synth");
    }
    if (!what || !out || (strcmp(what, "cifar10") && strcmp(what, "imagenet"))) {
        tb_fail("needs cifar10 or imagenet, and --out DIR");
        return bad_usage("synth");
    }
    int rc;
    if (!strcmp(what, "cifar10"))
        rc = tb_standin_cifar10(out, per_class > 0 ? per_class : 1000, (uint64_t)seed);
    else
        rc = tb_standin_imagenet(out, classes, per_class > 0 ? per_class : 20,
                               val_per_class > 0 ? val_per_class : 5, (uint64_t)seed, 0);
    return rc ? failed("synth") : 0;
}

int tb_cli_data(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
    args a = {.argc = argc, .argv = argv, .i = 2};
    if (!strcmp(argv[1], "fetch"))
        return cmd_fetch(&a);
    if (!strcmp(argv[1], "imagenet"))
        return cmd_imagenet(&a);
    if (!strcmp(argv[1], "pack"))
        return cmd_pack(&a);
    if (!strcmp(argv[1], "synth"))
        return cmd_synth(&a);
    fprintf(stderr, "trainbench data: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
