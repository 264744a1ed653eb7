/* What a model is, by name: the architecture table behind --model, without
 * anything about a device, so the option table, presets and the workbench
 * can check and list models without linking a backend. */
#ifndef TB_MODEL_SPEC_H
#define TB_MODEL_SPEC_H

typedef enum { TB_BLOCK_BASIC, TB_BLOCK_BOTTLENECK } tb_block_kind;
typedef enum { TB_STEM_CIFAR, TB_STEM_IMAGENET } tb_stem_kind;

/* What a model is: everything model info needs, nothing about a device. */
typedef struct {
    char name[48];           /* canonical spelling, e.g. "resnet18-cifar:w16" */
    tb_stem_kind stem;       /* CIFAR: 3x3 conv, no max-pool; ImageNet: 7x7/2 + 3x3/2 max-pool */
    tb_block_kind block;
    int blocks[4];           /* blocks per stage */
    int width;               /* base width: 64 for the standard models */
    int batch_norm;          /* 0: --no-batch-norm, BN layers dropped, convolutions keep no bias */
    int in_channels;
    int classes;
    int torchvision_init;    /* kaiming_normal(fan_out) convs as torchvision; else PyTorch layer defaults */
} tb_model_spec;

/* Parses "resnet18-cifar", "resnet50", "resnet18-cifar:w16" into a spec with
 * the given classes/channels/batch norm.  Fails with a message listing the
 * accepted names. */
int tb_model_spec_parse(const char *name, int classes, int in_channels, int batch_norm, tb_model_spec *out);
/* Comma-separated list of accepted model names, for messages and help. */
const char *tb_model_names(void);

#endif
