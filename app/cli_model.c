/* `trainbench model info NAME`: layers, convolution count, parameters,
 * gradients and forward multiply-accumulates, as text or JSON. */
#include "app/cli.h" // uses: tb_cli_model

#include "core/error.h" // uses: tb_fail, tb_last_error
#include "engine/model.h" // uses: tb_model_info, tb_layer_info, tb_model_describe, tb_model_info_free

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: trainbench model info NAME [--no-batch-norm] [--classes N] [--channels N] [--input N] "
               "[--json] [--layers]\n  NAME: %s\n",
            tb_model_names());
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || !*v || x < lo || x > hi)
        return tb_fail("%s %s: expected an integer from %d to %d", flag, v ? v : "(missing)", lo, hi);
    *out = (int)x;
    return 0;
}

static void print_json(const tb_model_spec *s, const tb_model_info *info, int size, int layers)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string(s->name));
    json_object_object_add(o, "batch_norm", json_object_new_boolean(s->batch_norm));
    json_object_object_add(o, "classes", json_object_new_int(s->classes));
    json_object_object_add(o, "input", json_object_new_int(size));
    json_object_object_add(o, "params", json_object_new_int64((int64_t)info->params));
    json_object_object_add(o, "gradients", json_object_new_int64((int64_t)info->gradients));
    json_object_object_add(o, "buffers", json_object_new_int64((int64_t)info->buffers));
    json_object_object_add(o, "conv_layers", json_object_new_int(info->conv_layers));
    json_object_object_add(o, "shortcut_convs", json_object_new_int(info->shortcut_convs));
    json_object_object_add(o, "bn_layers", json_object_new_int(info->bn_layers));
    json_object_object_add(o, "fc_layers", json_object_new_int(info->fc_layers));
    json_object_object_add(o, "macs_per_image", json_object_new_int64((int64_t)info->macs_per_image));
    if (layers) {
        struct json_object *arr = json_object_new_array();
        for (int i = 0; i < info->layer_count; i++) {
            const tb_layer_info *l = &info->layers[i];
            struct json_object *lo = json_object_new_object();
            json_object_object_add(lo, "name", json_object_new_string(l->name));
            json_object_object_add(lo, "kind", json_object_new_string(l->kind));
            struct json_object *shape = json_object_new_array();
            json_object_array_add(shape, json_object_new_int(l->out.c));
            json_object_array_add(shape, json_object_new_int(l->out.h));
            json_object_array_add(shape, json_object_new_int(l->out.w));
            json_object_object_add(lo, "output", shape);
            json_object_object_add(lo, "params", json_object_new_int64((int64_t)l->params));
            json_object_object_add(lo, "macs", json_object_new_int64((int64_t)l->macs));
            json_object_array_add(arr, lo);
        }
        json_object_object_add(o, "layers", arr);
    }
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
    json_object_put(o);
}

static void print_text(const tb_model_spec *s, const tb_model_info *info, int size, int layers)
{
    printf("%s%s, %d classes, input %dx%dx%d\n", s->name, s->batch_norm ? "" : " (no batch norm)", s->classes,
           s->in_channels, size, size);
    if (layers) {
        printf("  %-28s %-8s %-16s %12s %14s\n", "layer", "kind", "output", "params", "MACs");
        for (int i = 0; i < info->layer_count; i++) {
            const tb_layer_info *l = &info->layers[i];
            char shape[32];
            snprintf(shape, sizeof shape, "%dx%dx%d", l->out.c, l->out.h, l->out.w);
            printf("  %-28s %-8s %-16s %12zu %14llu\n", l->name, l->kind, shape, l->params,
                   (unsigned long long)l->macs);
        }
    }
    printf("Convolution layers           : %d (+ %d 1x1 shortcut projections)\n", info->conv_layers,
           info->shortcut_convs);
    printf("Batch-norm layers            : %d\n", info->bn_layers);
    printf("Number of trainable parameters : %zu\n", info->params);
    printf("Number of gradients          : %zu\n", info->gradients);
    printf("Forward multiply-adds / image: %llu (%.3f GMAC)\n", (unsigned long long)info->macs_per_image,
           info->macs_per_image / 1e9);
}

int tb_cli_model(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "info") != 0) {
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "trainbench model: expected 'info'\n");
        usage(stderr);
        return 2;
    }
    const char *name = NULL;
    int batch_norm = 1, json = 0, layers = 0, classes = -1, channels = -1, size = -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (!strcmp(a, "--no-batch-norm") || !strcmp(a, "--no-batch-norm=true"))
            batch_norm = 0;
        else if (!strcmp(a, "--no-batch-norm=false"))
            batch_norm = 1;
        else if (!strcmp(a, "--json"))
            json = 1;
        else if (!strcmp(a, "--layers"))
            layers = 1;
        else if (!strcmp(a, "--classes"))
            rc = parse_int(a, i + 1 < argc ? argv[++i] : NULL, 2, 100000, &classes);
        else if (!strcmp(a, "--channels"))
            rc = parse_int(a, i + 1 < argc ? argv[++i] : NULL, 1, 64, &channels);
        else if (!strcmp(a, "--input"))
            rc = parse_int(a, i + 1 < argc ? argv[++i] : NULL, 8, 4096, &size);
        else if (a[0] == '-' || name)
            rc = tb_fail("unexpected argument '%s'", a);
        else
            name = a;
        if (rc) {
            fprintf(stderr, "trainbench model info: %s\n", tb_last_error());
            usage(stderr);
            return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "trainbench model info: missing model NAME\n");
        usage(stderr);
        return 2;
    }
    tb_model_spec spec;
    int imagenet = strstr(name, "cifar") == NULL;
    if (tb_model_spec_parse(name, classes > 0 ? classes : (imagenet ? 1000 : 10), channels > 0 ? channels : 3,
                            batch_norm, &spec)) {
        fprintf(stderr, "trainbench model info: %s\n", tb_last_error());
        return 2;
    }
    if (size < 0)
        size = spec.stem == TB_STEM_IMAGENET ? 224 : 32;
    tb_model_info info;
    if (tb_model_describe(&spec, size, size, &info)) {
        fprintf(stderr, "trainbench model info: %s\n", tb_last_error());
        return 2;
    }
    if (json)
        print_json(&spec, &info, size, layers);
    else
        print_text(&spec, &info, size, layers);
    tb_model_info_free(&info);
    return 0;
}
