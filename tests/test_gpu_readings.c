/* Per-epoch GPU readings (issue 18): the aggregation over samples (mean
 * utilisation, peak memory, mean power; a reading NVML cannot give left
 * out), fed with the stand-in NVML's readings through core/gpumon, and the
 * epoch report's JSON form: null without a GPU, numbers with one, and older
 * or damaged result.json files read without them. */
#include "check.h"
#include "core/error.h" // uses: tb_last_error
#include "core/gpumon.h" // uses: tb_gpumon, tb_gpumon_open, tb_gpu_reading, tb_gpumon_read, tb_gpumon_close
#include "rundir/train_report.h" // uses: tb_gpu_agg, tb_gpu_agg_result, tb_gpu_agg_add, tb_epoch_report, ...

#include <stdlib.h>
#include <string.h>

static void agg_tests(void)
{
    tb_gpu_agg a;
    double u, m, p;
    memset(&a, 0, sizeof a);
    tb_gpu_agg_result(&a, &u, &m, &p);
    CHECK(isnan(u) && isnan(m) && isnan(p), "no samples: %g %g %g", u, m, p);
    tb_gpu_agg_add(&a, 80, 2e9, 250);
    tb_gpu_agg_add(&a, 40, 5e9, NAN); /* power not supported on this sample */
    tb_gpu_agg_add(&a, NAN, 3e9, 150);
    tb_gpu_agg_add(&a, 0, NAN, 200);  /* idle counts: 0 %, not left out */
    tb_gpu_agg_add(&a, NAN, NAN, 100);
    tb_gpu_agg_result(&a, &u, &m, &p);
    CHECK_CLOSE(u, 40.0, 1e-12, "mean utilisation of 80, 40, 0");
    CHECK_CLOSE(m, 5e9, 1e-12, "peak memory");
    CHECK_CLOSE(p, 175.0, 1e-12, "mean power of 250, 150, 200, 100");
    /* readings that cannot be true are no readings */
    memset(&a, 0, sizeof a);
    tb_gpu_agg_add(&a, -1, -5, INFINITY);
    tb_gpu_agg_result(&a, &u, &m, &p);
    CHECK(isnan(u) && isnan(m) && isnan(p), "negative/inf readings taken: %g %g %g", u, m, p);
}

/* Samples from the stand-in NVML: GPU 0 gives every reading, GPU 1 no power. */
static void standin_tests(void)
{
    tb_gpumon *mon = tb_gpumon_open(NULL);
    CHECK(mon != NULL, "the stand-in NVML (LD_LIBRARY_PATH): %s", tb_last_error());
    if (!mon)
        return;
    tb_gpu_reading g;
    for (int i = 0; i < 2; i++) {
        tb_gpu_agg a;
        memset(&a, 0, sizeof a);
        for (int k = 0; k < 3; k++) {
            CHECK(tb_gpumon_read(mon, i, &g) == 0, "read GPU %d: %s", i, tb_last_error());
            tb_gpu_agg_add(&a, g.util_pct, g.mem_used, g.power_w);
        }
        double u, m, p;
        tb_gpu_agg_result(&a, &u, &m, &p);
        CHECK_CLOSE(u, i == 0 ? 87.0 : 3.0, 1e-12, "stand-in utilisation");
        CHECK_CLOSE(m, i == 0 ? 13421772800.0 : 1073741824.0, 1e-12, "stand-in memory in use");
        if (i == 0)
            CHECK_CLOSE(p, 312.5, 1e-12, "stand-in power");
        else
            CHECK(isnan(p), "GPU 1 has no power reading, got %g", p);
        /* into an epoch report and out as result.json has it */
        tb_epoch_report r;
        memset(&r, 0, sizeof r);
        r.epoch = 1;
        r.gpu_sampled = 1;
        r.gpu_util_mean = u, r.gpu_mem_peak_bytes = m, r.gpu_power_mean_w = p;
        struct json_object *o = tb_epoch_report_json(&r), *v;
        CHECK(json_object_object_get_ex(o, "gpu_util_mean", &v) && json_object_is_type(v, json_type_double) &&
                  json_object_get_double(v) == u,
              "gpu_util_mean: %s", json_object_to_json_string(o));
        CHECK(json_object_object_get_ex(o, "gpu_power_mean_w", &v) && (i == 0 ? v != NULL : v == NULL),
              "gpu_power_mean_w of GPU %d: %s", i, json_object_to_json_string(o));
        tb_epoch_report back;
        CHECK(tb_epoch_report_from_json(o, &back) == 0, "read back: %s", tb_last_error());
        CHECK(back.gpu_sampled && back.gpu_util_mean == u && back.gpu_mem_peak_bytes == m &&
                  (i == 0 ? back.gpu_power_mean_w == p : isnan(back.gpu_power_mean_w)),
              "read back GPU %d: %g %g %g", i, back.gpu_util_mean, back.gpu_mem_peak_bytes, back.gpu_power_mean_w);
        free(back.class_acc);
        json_object_put(o);
    }
    tb_gpumon_close(mon);
}

static void report_tests(void)
{
    /* No GPU: the three keys are there, null. */
    tb_epoch_report r;
    memset(&r, 0, sizeof r);
    r.epoch = 1;
    struct json_object *o = tb_epoch_report_json(&r), *v;
    const char *keys[] = {"gpu_util_mean", "gpu_mem_peak_bytes", "gpu_power_mean_w"};
    for (int k = 0; k < 3; k++)
        CHECK(json_object_object_get_ex(o, keys[k], &v) && v == NULL, "%s not null: %s", keys[k],
              json_object_to_json_string(o));
    tb_epoch_report back;
    CHECK(tb_epoch_report_from_json(o, &back) == 0 && !back.gpu_sampled && isnan(back.gpu_util_mean),
          "null readings read back: %s", tb_last_error());
    free(back.class_acc);
    /* An older result.json without them, or with strings: read, no readings. */
    for (int k = 0; k < 3; k++)
        json_object_object_del(o, keys[k]);
    CHECK(tb_epoch_report_from_json(o, &back) == 0 && !back.gpu_sampled, "without the keys: %s", tb_last_error());
    free(back.class_acc);
    json_object_object_add(o, "gpu_util_mean", json_object_new_string("87"));
    json_object_object_add(o, "gpu_mem_peak_bytes", json_object_new_double(-3));
    CHECK(tb_epoch_report_from_json(o, &back) == 0 && !back.gpu_sampled && isnan(back.gpu_mem_peak_bytes),
          "a string and a negative reading: %d %g", back.gpu_sampled, back.gpu_mem_peak_bytes);
    free(back.class_acc);
    json_object_put(o);
}

int main(void)
{
    agg_tests();
    report_tests();
    standin_tests();
    return check_finish();
}
