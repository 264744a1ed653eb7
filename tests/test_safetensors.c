/* safetensors reader/writer and model load/save by name: round trips, and
 * rejection (with the file and tensor named) of every malformed file the
 * reader promises to catch. */
#include "core/error.h" // uses: tb_clear_error, tb_last_error
#include "engine/model.h" // uses: tb_model, tb_model_create, tb_buffer, tb_model_buffers, tb_param, ...
#include "engine/model_io.h" // uses: tb_model_save_safetensors, TB_IO_PARAMS, TB_IO_BUFFERS, ...
#include "engine/safetensors.h" // uses: tb_st_file, tb_st_open, tb_st_close, tb_st_writer, tb_st_writer_create, ...
#include "tests/check.h" // uses: CHECK, check_finish

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/tb-test-st-XXXXXX";
static char path[512];

static const char *file(const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Entries of the test folder that look like a writer's temporary file
 * (".NAME.tmp-XXXXXX", or the older "NAME.tmp.PID"). */
static int temp_files(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, ".tmp") != NULL;
    if (d)
        closedir(d);
    return d ? n : -1;
}

/* A file with this exact header text followed by `data_bytes` bytes of data. */
static const char *raw(const char *name, const char *header, size_t data_bytes, int64_t declared_len)
{
    const char *p = file(name);
    FILE *f = fopen(p, "wb");
    if (!f)
        exit(99);
    uint64_t len = declared_len >= 0 ? (uint64_t)declared_len : strlen(header);
    for (int i = 0; i < 8; i++)
        fputc((int)(len >> (8 * i)) & 0xff, f);
    fputs(header, f);
    for (size_t i = 0; i < data_bytes; i++)
        fputc((int)i & 0xff, f);
    if (fclose(f))
        exit(99);
    return p;
}

/* Opening must fail with a message containing every non-NULL string. */
static void expect_reject(const char *p, const char *what, const char *needle)
{
    tb_st_file f;
    tb_clear_error();
    int rc = tb_st_open(p, &f);
    CHECK(rc == -1, "%s: accepted", what);
    if (rc == 0) {
        tb_st_close(&f);
        return;
    }
    CHECK(strstr(tb_last_error(), p) != NULL, "%s: message does not name the file: %s", what, tb_last_error());
    CHECK(!needle || strstr(tb_last_error(), needle), "%s: message lacks \"%s\": %s", what, needle, tb_last_error());
}

static void test_round_trip(void)
{
    tb_st_writer *w = tb_st_writer_create();
    float a[6] = {1.5f, -2.25f, 3e-8f, 4e30f, -0.0f, 6.0f};
    int32_t b[3] = {7, -8, 2147483647};
    double c = 0.125;
    CHECK(w != NULL, "writer");
    CHECK(tb_st_writer_add(w, "x.weight", TB_ST_F32, 2, (int64_t[]){2, 3}, a) == 0, "add a");
    CHECK(tb_st_writer_add(w, "labels", TB_ST_I32, 1, (int64_t[]){3}, b) == 0, "add b");
    CHECK(tb_st_writer_add(w, "scalar", TB_ST_F64, 0, NULL, &c) == 0, "add scalar");
    CHECK(tb_st_writer_add(w, "empty", TB_ST_F32, 2, (int64_t[]){0, 4}, NULL) == 0, "add empty");
    CHECK(tb_st_writer_add(w, "labels", TB_ST_I32, 1, (int64_t[]){3}, b) == -1, "duplicate name refused");
    CHECK(tb_st_writer_meta(w, "format", "pt") == 0, "meta");
    CHECK(tb_st_writer_save(w, file("rt.safetensors")) == 0, "save: %s", tb_last_error());
    tb_st_writer_free(w);
    CHECK(temp_files() == 0, "no temporary file left");

    tb_st_file f;
    CHECK(tb_st_open(file("rt.safetensors"), &f) == 0, "open: %s", tb_last_error());
    CHECK(f.count == 4, "4 tensors, got %d", f.count);
    const unsigned char *base = f.map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | base[i];
    CHECK((8 + hlen) % 8 == 0, "data section starts 8-byte aligned (header %llu)", (unsigned long long)hlen);
    const tb_st_tensor *t = tb_st_find(&f, "x.weight");
    CHECK(t && t->dtype == TB_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->count == 6,
          "x.weight metadata");
    float got[6];
    CHECK(tb_st_read_f32(&f, "x.weight", 2, (int64_t[]){2, 3}, got, 6) == 0, "read: %s", tb_last_error());
    CHECK(!memcmp(got, a, sizeof a), "x.weight bytes survive");
    t = tb_st_find(&f, "labels");
    CHECK(t && t->dtype == TB_ST_I32 && !memcmp(t->data, b, sizeof b), "labels");
    t = tb_st_find(&f, "scalar");
    CHECK(t && t->ndim == 0 && t->count == 1 && !memcmp(t->data, &c, 8), "0-d scalar");
    t = tb_st_find(&f, "empty");
    CHECK(t && t->count == 0 && t->bytes == 0, "empty tensor");
    CHECK(tb_st_meta(&f, "format") && !strcmp(tb_st_meta(&f, "format"), "pt"), "metadata");
    CHECK(tb_st_find(&f, "nope") == NULL, "missing tensor");

    tb_clear_error();
    CHECK(tb_st_read_f32(&f, "x.weight", 2, (int64_t[]){3, 2}, got, 6) == -1 &&
              strstr(tb_last_error(), "x.weight") && strstr(tb_last_error(), "[2, 3]"),
          "wrong shape names tensor and shape: %s", tb_last_error());
    CHECK(tb_st_read_f32(&f, "labels", 1, NULL, got, 3) == -1 && strstr(tb_last_error(), "I32"),
          "wrong dtype refused: %s", tb_last_error());
    CHECK(tb_st_read_f32(&f, "nope", 1, NULL, got, 3) == -1 && strstr(tb_last_error(), "nope"),
          "missing tensor named: %s", tb_last_error());
    tb_st_close(&f);
}

static void test_rejects(void)
{
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    tb_st_file f;
    int opened = tb_st_open(raw("ok.st", ok, 8, -1), &f) == 0;
    CHECK(opened, "the baseline file opens: %s", tb_last_error());
    if (opened) {
        CHECK(f.count == 1, "one tensor");
        tb_st_close(&f);
    }

    expect_reject(file("missing.st"), "missing file", "No such file");
    expect_reject(raw("short.st", "", 0, 0), "8 bytes, zero header", "impossible");
    FILE *s = fopen(file("tiny.st"), "wb");
    if (!s || fputs("abc", s) < 0 || fclose(s))
        exit(99);
    expect_reject(file("tiny.st"), "3-byte file", "too short");
    expect_reject(raw("long.st", ok, 8, 1000), "header length past the end", "impossible");
    expect_reject(raw("json.st", "{\"a\":{\"dtype\":\"F32\",", 8, -1), "truncated JSON", "JSON");
    expect_reject(raw("trail.st", "{}  x", 0, -1), "garbage after the JSON", "after its JSON");
    expect_reject(raw("array.st", "[1, 2]", 0, -1), "array header", "not a JSON object");
    expect_reject(raw("dtype.st", "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1),
                  "unknown dtype", "\"a\"");
    expect_reject(raw("shape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1),
                  "shape disagrees with offsets", "\"a\"");
    expect_reject(raw("neg.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -1),
                  "negative dimension", "dimension 0");
    expect_reject(raw("past.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8, -1),
                  "offsets past the data", "truncated");
    expect_reject(raw("order.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, -1),
                  "end before begin", "begin <= end");
    expect_reject(raw("field.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, -1), "missing data_offsets",
                  "data_offsets");
    expect_reject(raw("extra.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, -1),
                  "unknown field", "\"x\"");
    expect_reject(raw("meta.st", "{\"__metadata__\":{\"k\":1}}", 0, -1), "non-string metadata", "\"k\"");
    expect_reject(raw("overlap.st",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                      "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                      16, -1),
                  "overlapping tensors (an empty one between)", "overlap");
}

/* Parameters and buffers written by one model load into another built from
 * another seed, bit for bit; strict loading names what does not match. */
static void test_model_io(tb_backend *b)
{
    tb_model_spec spec;
    CHECK(tb_model_spec_parse("resnet18-cifar:w4", 10, 3, 1, &spec) == 0, "spec");
    tb_model *m1 = tb_model_create(b, &spec, 2, 32, 32, 1), *m2 = tb_model_create(b, &spec, 2, 32, 32, 2);
    CHECK(m1 && m2, "models: %s", tb_last_error());
    if (!m1 || !m2)
        return;
    tb_buffer *buf = tb_model_buffers(m1);
    buf[0].data[0] = 0.75f; /* not the initial value, so buffers really travel */
    CHECK(tb_model_save_safetensors(b, m1, NULL, file("m.safetensors"), TB_IO_PARAMS | TB_IO_BUFFERS) == 0,
          "save: %s", tb_last_error());
    tb_param *p1 = tb_model_params(m1), *p2 = tb_model_params(m2);
    CHECK(memcmp(p1[0].data, p2[0].data, p1[0].count * sizeof(float)) != 0, "seeds differ before loading");
    CHECK(tb_model_load_safetensors(b, m2, NULL, file("m.safetensors"), TB_IO_PARAMS | TB_IO_BUFFERS) == 0,
          "load: %s", tb_last_error());
    int same = 1;
    for (int i = 0; i < tb_model_param_count(m1); i++)
        same &= !memcmp(p1[i].data, p2[i].data, p1[i].count * sizeof(float));
    for (int i = 0; i < tb_model_buffer_count(m1); i++)
        same &= !memcmp(buf[i].data, tb_model_buffers(m2)[i].data, buf[i].count * sizeof(float));
    CHECK(same, "every parameter and buffer loaded bit for bit");

    /* Gradients asked for but absent: named. */
    tb_st_file f;
    CHECK(tb_st_open(file("m.safetensors"), &f) == 0, "reopen");
    tb_clear_error();
    CHECK(tb_model_io_load(&f, b, m2, TB_IO_GRADS, NULL, 0) == -1 && strstr(tb_last_error(), "grad.conv1.weight"),
          "missing gradients named: %s", tb_last_error());
    tb_st_close(&f);
    /* Buffers in the file but not asked for: strict loading refuses. */
    CHECK(tb_model_load_safetensors(b, m2, NULL, file("m.safetensors"), TB_IO_PARAMS) == -1 &&
              strstr(tb_last_error(), "bn1.running_mean"),
          "unexpected tensor named: %s", tb_last_error());

    /* A wider model's file does not fit: the shape is named. */
    tb_model_spec wide;
    CHECK(tb_model_spec_parse("resnet18-cifar:w8", 10, 3, 1, &wide) == 0, "wide spec");
    tb_model *m3 = tb_model_create(b, &wide, 2, 32, 32, 1);
    CHECK(m3 && tb_model_load_safetensors(b, m3, NULL, file("m.safetensors"), TB_IO_PARAMS | TB_IO_BUFFERS) == -1 &&
              strstr(tb_last_error(), "conv1.weight") && strstr(tb_last_error(), "[4, 3, 3, 3]"),
          "shape mismatch named: %s", tb_last_error());
    tb_model_destroy(m3);

    /* PyTorch's num_batches_tracked is accepted and ignored; a stray name is not. */
    CHECK(tb_st_open(file("m.safetensors"), &f) == 0, "reopen");
    tb_st_writer *w = tb_st_writer_create();
    for (int i = 0; w && i < f.count; i++)
        CHECK(tb_st_writer_add(w, f.tensors[i].name, f.tensors[i].dtype, f.tensors[i].ndim, f.tensors[i].shape,
                               f.tensors[i].data) == 0,
              "copy");
    int64_t nbt = 3;
    CHECK(tb_st_writer_add(w, "bn1.num_batches_tracked", TB_ST_I64, 0, NULL, &nbt) == 0, "nbt");
    CHECK(tb_st_writer_save(w, file("pt.safetensors")) == 0, "save pt");
    CHECK(tb_st_writer_add(w, "layer9.0.conv1.weight", TB_ST_F32, 1, (int64_t[]){1}, &(float){1}) == 0, "stray");
    CHECK(tb_st_writer_save(w, file("stray.safetensors")) == 0, "save stray");
    tb_st_writer_free(w);
    tb_st_close(&f);
    CHECK(tb_model_load_safetensors(b, m2, NULL, file("pt.safetensors"), TB_IO_PARAMS | TB_IO_BUFFERS) == 0,
          "num_batches_tracked ignored: %s", tb_last_error());
    CHECK(tb_model_load_safetensors(b, m2, NULL, file("stray.safetensors"), TB_IO_PARAMS | TB_IO_BUFFERS) == -1 &&
              strstr(tb_last_error(), "layer9.0.conv1.weight"),
          "stray tensor named: %s", tb_last_error());

    /* Optimizer state round trip: names, step count and values. */
    tb_optim_config oc;
    tb_optim_config_defaults(&oc);
    oc.kind = TB_OPT_ADAM;
    tb_optimizer o1, o2;
    tb_optimizer_init(&o1, &oc);
    tb_optimizer_init(&o2, &oc);
    for (int i = 0; i < tb_model_param_count(m1); i++)
        for (size_t k = 0; k < p1[i].count; k++)
            p1[i].grad[k] = (float)((k % 7) - 3) * 0.01f;
    CHECK(tb_optimizer_step(&o1, b, p1, tb_model_param_count(m1), 1e-3f) == 0, "adam step");
    CHECK(tb_model_save_safetensors(b, m1, &o1, file("o.safetensors"), TB_IO_OPT_STATE) == 0, "save state: %s",
          tb_last_error());
    CHECK(tb_model_load_safetensors(b, m2, &o2, file("o.safetensors"), TB_IO_OPT_STATE) == 0, "load state: %s",
          tb_last_error());
    CHECK(o2.step == 1, "step count restored (%ld)", o2.step);
    CHECK(!memcmp(p1[0].state[1], p2[0].state[1], p1[0].count * sizeof(float)), "exp_avg_sq restored");
    CHECK(tb_st_open(file("o.safetensors"), &f) == 0 && tb_st_find(&f, "optimizer.fc.bias.exp_avg"),
          "torch.optim state names");
    tb_st_close(&f);
    oc.kind = TB_OPT_SGD;
    tb_optimizer_init(&o2, &oc);
    CHECK(tb_model_load_safetensors(b, m2, &o2, file("o.safetensors"), TB_IO_OPT_STATE) == -1 &&
              strstr(tb_last_error(), "adam"),
          "state of another optimizer refused: %s", tb_last_error());
    tb_optimizer_free_state(b, p1, tb_model_param_count(m1));
    tb_optimizer_free_state(b, p2, tb_model_param_count(m2));
    tb_model_destroy(m1);
    tb_model_destroy(m2);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 99;
    }
    tb_backend *b = tb_cpu_backend_create(1);
    if (!b) {
        fprintf(stderr, "%s\n", tb_last_error());
        return 99;
    }
    test_round_trip();
    test_rejects();
    test_model_io(b);
    b->destroy(b);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
    return check_finish();
}
