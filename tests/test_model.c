/* Model descriptions (parameter counts the labs and torchvision report) and
 * the model on the CPU backend: shapes, naming, initialisation, determinism,
 * train/eval modes. */
#include "core/error.h" // uses: tb_last_error
#include "engine/backend.h" // uses: tb_backend, tb_cpu_backend_create, tb_tensor, tb_shape_count
#include "engine/model.h" // uses: tb_model_info, tb_model_describe, tb_model_info_free, tb_layer_info, tb_param, ...
#include "tests/check.h" // uses: CHECK, check_finish

#include <stdlib.h>
#include <string.h>

static void expect_count(const char *name, int classes, int bn, size_t params, int convs, int shortcuts)
{
    tb_model_spec s;
    tb_model_info info;
    CHECK(tb_model_spec_parse(name, classes, 3, bn, &s) == 0, "%s: %s", name, tb_last_error());
    int size = s.stem == TB_STEM_IMAGENET ? 224 : 32;
    CHECK(tb_model_describe(&s, size, size, &info) == 0, "%s: %s", name, tb_last_error());
    CHECK(info.params == params, "%s%s: %zu parameters, want %zu", name, bn ? "" : " no-bn", info.params, params);
    CHECK(info.gradients == params, "%s: gradients %zu", name, info.gradients);
    CHECK(info.conv_layers == convs, "%s: %d conv layers, want %d", name, info.conv_layers, convs);
    CHECK(info.shortcut_convs == shortcuts, "%s: %d shortcut convs, want %d", name, info.shortcut_convs, shortcuts);
    tb_model_info_free(&info);
}

static void test_counts(void)
{
    /* The lab's figures (HPML lab 2, Q1 and Q3, and C7). */
    expect_count("resnet18-cifar", 10, 1, 11173962, 17, 3);
    expect_count("resnet18-cifar", 10, 0, 11164362, 17, 3);
    /* torchvision's published counts. */
    expect_count("resnet18", 1000, 1, 11689512, 17, 3);
    expect_count("resnet34", 1000, 1, 21797672, 33, 3);
    expect_count("resnet50", 1000, 1, 25557032, 49, 4);

    tb_model_spec s;
    tb_model_info info;
    tb_model_spec_parse("resnet18-cifar", 10, 3, 1, &s);
    tb_model_describe(&s, 32, 32, &info);
    /* ~0.556 GMAC per 32x32 image, as commonly reported for this model. */
    CHECK(info.macs_per_image > 550000000ull && info.macs_per_image < 560000000ull, "macs %llu",
          (unsigned long long)info.macs_per_image);
    const tb_layer_info *fc = &info.layers[info.layer_count - 1];
    CHECK(strcmp(fc->kind, "fc") == 0 && fc->params == 512 * 10 + 10, "final layer %s %zu", fc->kind, fc->params);
    tb_model_info_free(&info);

    tb_model_spec_parse("resnet50", 1000, 3, 1, &s);
    tb_model_describe(&s, 224, 224, &info);
    /* torchvision ResNet-50: 4.09 GMAC at 224x224. */
    CHECK(info.macs_per_image > 4080000000ull && info.macs_per_image < 4120000000ull, "resnet50 macs %llu",
          (unsigned long long)info.macs_per_image);
    tb_model_info_free(&info);
}

static void test_parse_errors(void)
{
    tb_model_spec s;
    CHECK(tb_model_spec_parse("resnet19", 10, 3, 1, &s) == -1, "unknown model accepted");
    CHECK(strstr(tb_last_error(), "resnet18-cifar") != NULL, "message lists models: %s", tb_last_error());
    CHECK(tb_model_spec_parse("resnet18-cifar:w0", 10, 3, 1, &s) == -1, "width 0 accepted");
    CHECK(tb_model_spec_parse("resnet18-cifar:x8", 10, 3, 1, &s) == -1, "bad suffix accepted");
    CHECK(tb_model_spec_parse("resnet18-cifar:w", 10, 3, 1, &s) == -1, "empty width accepted");
    CHECK(tb_model_spec_parse("resnet18-cifar:w16", 10, 3, 1, &s) == 0 && s.width == 16, "w16");
    CHECK(strcmp(s.name, "resnet18-cifar:w16") == 0, "canonical name %s", s.name);
    CHECK(tb_model_spec_parse("resnet18-cifar", 1, 3, 1, &s) == -1, "1 class accepted");
    tb_model_info info;
    tb_model_spec_parse("resnet50", 10, 3, 1, &s);
    CHECK(tb_model_describe(&s, 64, 32, &info) == -1, "non-square input accepted by resnet50");
}

static float *download_param(tb_backend *b, const tb_param *p)
{
    float *h = malloc(p->count * sizeof *h);
    b->download(b, h, p->data, p->count * sizeof *h);
    return h;
}

static void test_on_cpu(void)
{
    tb_backend *b = tb_cpu_backend_create(2);
    CHECK(b != NULL, "backend: %s", tb_last_error());
    if (!b)
        return;
    tb_model_spec s;
    tb_model_spec_parse("resnet18-cifar:w8", 10, 1, 1, &s);
    tb_model *m = tb_model_create(b, &s, 8, 32, 32, 42);
    tb_model *m2 = tb_model_create(b, &s, 8, 32, 32, 42);
    CHECK(m && m2, "create: %s", tb_last_error());
    if (!m || !m2)
        return;

    /* Names as PyTorch's state_dict, init as PyTorch's defaults. */
    tb_param *p = tb_model_params(m);
    int np = tb_model_param_count(m);
    CHECK(strcmp(p[0].name, "conv1.weight") == 0, "first %s", p[0].name);
    CHECK(strcmp(p[np - 1].name, "fc.bias") == 0, "last %s", p[np - 1].name);
    int found_down = 0;
    for (int i = 0; i < np; i++)
        found_down += strcmp(p[i].name, "layer2.0.downsample.0.weight") == 0;
    CHECK(found_down == 1, "layer2.0.downsample.0.weight present");
    float *w = download_param(b, &p[0]);
    double bound = 1.0 / sqrt(1 * 3 * 3), maxabs = 0, mean = 0;
    for (size_t i = 0; i < p[0].count; i++) {
        maxabs = fmax(maxabs, fabs(w[i]));
        mean += w[i] / p[0].count;
    }
    CHECK(maxabs <= bound && maxabs > 0.5 * bound, "conv1 init within U(+-%g): max %g", bound, maxabs);
    float *w2 = download_param(b, &tb_model_params(m2)[0]);
    CHECK(memcmp(w, w2, p[0].count * sizeof *w) == 0, "same seed, same weights");
    free(w);
    free(w2);
    float *g = download_param(b, &p[1]);
    CHECK(strcmp(p[1].name, "bn1.weight") == 0 && g[0] == 1.0f, "bn1.weight init 1: %s %g", p[1].name, g[0]);
    free(g);

    /* A forward pass: finite logits; train mode and eval mode differ (batch
     * vs running statistics) until the running statistics are learnt. */
    tb_tensor *in = tb_model_input(m);
    size_t n_in = tb_shape_count(in->shape);
    float *x = malloc(n_in * sizeof *x);
    for (size_t i = 0; i < n_in; i++)
        x[i] = (float)sin(0.37 * i) * 2.0f;
    b->upload(b, in->data, x, n_in * sizeof *x);
    float logits_train[80], logits_eval[80], logits_small[80];
    CHECK(tb_model_forward(m, 8, 1) == 0, "forward: %s", tb_last_error());
    b->download(b, logits_train, tb_model_logits(m)->data, sizeof logits_train);
    CHECK(tb_model_forward(m, 8, 0) == 0, "forward eval: %s", tb_last_error());
    b->download(b, logits_eval, tb_model_logits(m)->data, sizeof logits_eval);
    int finite = 1, differ = 0;
    for (int i = 0; i < 80; i++) {
        finite &= isfinite(logits_train[i]) && isfinite(logits_eval[i]);
        differ |= fabsf(logits_train[i] - logits_eval[i]) > 1e-4f;
    }
    CHECK(finite, "finite logits");
    CHECK(differ, "train and eval modes differ");
    /* Eval mode is per-image: the first 3 images alone give the same logits. */
    CHECK(tb_model_forward(m, 3, 0) == 0, "forward n=3: %s", tb_last_error());
    b->download(b, logits_small, tb_model_logits(m)->data, 30 * sizeof(float));
    double maxdiff = 0;
    for (int i = 0; i < 30; i++)
        maxdiff = fmax(maxdiff, fabs(logits_small[i] - logits_eval[i]));
    CHECK(maxdiff < 1e-4, "eval logits independent of batch size: %g", maxdiff);
    CHECK(tb_model_forward(m, 9, 1) == -1, "batch above max refused");

    /* Running statistics moved after a training forward (momentum 0.1). */
    tb_buffer *buf = tb_model_buffers(m);
    float rm[8];
    b->download(b, rm, buf[0].data, sizeof rm);
    CHECK(strcmp(buf[0].name, "bn1.running_mean") == 0, "buffer %s", buf[0].name);
    CHECK(fabsf(rm[0]) > 0, "running mean updated");
    free(x);
    tb_model_destroy(m);
    tb_model_destroy(m2);

    /* The ImageNet stem and bottlenecks at a small input and width. */
    tb_model_spec_parse("resnet50:w4", 7, 3, 1, &s);
    m = tb_model_create(b, &s, 2, 64, 64, 1);
    CHECK(m != NULL, "resnet50:w4 at 64x64: %s", tb_last_error());
    if (m) {
        CHECK(tb_model_forward(m, 2, 1) == 0, "resnet50 forward: %s", tb_last_error());
        tb_model_destroy(m);
    }
    b->destroy(b);
}

int main(void)
{
    test_counts();
    test_parse_errors();
    test_on_cpu();
    return check_finish();
}
