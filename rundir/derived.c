/* Derived figures (see derived.h). */
#include "rundir/derived.h"

#include <math.h>
#include <stdio.h>

static int bad(double x) { return isnan(x) || x <= 0; }

double tb_speedup(double t_base, double t)
{
    if (bad(t_base) || bad(t))
        return NAN;
    return t_base / t;
}

double tb_weak_speedup(double t_base, double n_base, double t, double n)
{
    if (bad(t_base) || bad(t) || bad(n_base) || bad(n))
        return NAN;
    return t_base / (t * (n / n_base));
}

double tb_scaling_efficiency(double t1, double tn, double n)
{
    if (bad(t1) || bad(tn) || bad(n))
        return NAN;
    return t1 / (n * tn) * 100.0;
}

double tb_allreduce_bandwidth(int n, double model_bytes, double allreduces, double comm_s)
{
    /* One GPU communicates nothing: no bandwidth to speak of. */
    if (n < 2 || bad(model_bytes) || bad(allreduces) || bad(comm_s))
        return NAN;
    return 2.0 * (n - 1) / n * model_bytes * allreduces / comm_s;
}

double tb_images_per_s(double images, double seconds)
{
    if (isnan(images) || images < 0 || bad(seconds))
        return NAN;
    return images / seconds;
}

void tb_format_hms(double seconds, char *out, unsigned size)
{
    if (isnan(seconds) || seconds < 0) {
        snprintf(out, size, "n/a");
        return;
    }
    long s = lround(seconds);
    snprintf(out, size, "%02ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

int tb_average_first(int epochs, int skip) { return skip > 0 && skip < epochs ? skip : 0; }
