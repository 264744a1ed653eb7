/* Model names -> architecture descriptions.  Each model is one table row. */
#include "core/error.h" // uses: tb_fail
#include "spec/model_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    tb_stem_kind stem;
    tb_block_kind block;
    int blocks[4];
    int torchvision_init;
} model_row;

static const model_row models[] = {
    /* kuangliu/pytorch-cifar's ResNet-18, the labs' model */
    {"resnet18-cifar", TB_STEM_CIFAR, TB_BLOCK_BASIC, {2, 2, 2, 2}, 0},
    {"resnet34-cifar", TB_STEM_CIFAR, TB_BLOCK_BASIC, {3, 4, 6, 3}, 0},
    {"resnet50-cifar", TB_STEM_CIFAR, TB_BLOCK_BOTTLENECK, {3, 4, 6, 3}, 0},
    /* torchvision's ImageNet ResNets (v1.5: stride on the 3x3 convolution) */
    {"resnet18", TB_STEM_IMAGENET, TB_BLOCK_BASIC, {2, 2, 2, 2}, 1},
    {"resnet34", TB_STEM_IMAGENET, TB_BLOCK_BASIC, {3, 4, 6, 3}, 1},
    {"resnet50", TB_STEM_IMAGENET, TB_BLOCK_BOTTLENECK, {3, 4, 6, 3}, 1},
};

const char *tb_model_names(void)
{
    return "resnet18-cifar, resnet34-cifar, resnet50-cifar, resnet18, resnet34, resnet50 "
           "(append :wN for base width N, e.g. resnet18-cifar:w16)";
}

int tb_model_spec_parse(const char *name, int classes, int in_channels, int batch_norm, tb_model_spec *out)
{
    char base[48];
    int width = 64;
    const char *colon = strchr(name, ':');
    size_t len = colon ? (size_t)(colon - name) : strlen(name);
    if (len >= sizeof base)
        return tb_fail("unknown model '%s'; accepted: %s", name, tb_model_names());
    memcpy(base, name, len);
    base[len] = '\0';
    if (colon) {
        char *end;
        long w = strtol(colon + 1 + (colon[1] == 'w'), &end, 10);
        if (colon[1] != 'w' || *end || end == colon + 2 || w < 1 || w > 1024)
            return tb_fail("model '%s': width suffix must be :wN with N from 1 to 1024 (e.g. %s:w16)", name, base);
        width = (int)w;
    }
    if (classes < 2 || classes > 100000)
        return tb_fail("model '%s': %d classes; need 2 to 100000", name, classes);
    if (in_channels < 1 || in_channels > 64)
        return tb_fail("model '%s': %d input channels; need 1 to 64", name, in_channels);
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        const model_row *r = &models[i];
        if (strcmp(r->name, base) != 0)
            continue;
        memset(out, 0, sizeof *out);
        if (width == 64)
            snprintf(out->name, sizeof out->name, "%s", r->name);
        else
            snprintf(out->name, sizeof out->name, "%s:w%d", r->name, width);
        out->stem = r->stem;
        out->block = r->block;
        memcpy(out->blocks, r->blocks, sizeof out->blocks);
        out->width = width;
        out->batch_norm = batch_norm;
        out->in_channels = in_channels;
        out->classes = classes;
        out->torchvision_init = r->torchvision_init;
        return 0;
    }
    return tb_fail("unknown model '%s'; accepted: %s", name, tb_model_names());
}
