/* Softmax cross-entropy: plain C, one sample per OpenMP iteration.  The
 * log-softmax subtracts the row maximum first so exp() never overflows. */
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_softmax_xent, tb_cpu_require_plain

#include <math.h>

int tb_cpu_softmax_xent(tb_backend *b, const tb_tensor *logits, const int32_t *labels, float grad_scale,
                        tb_tensor *dlogits, double *loss_sum_host)
{
    (void)b;
    const tb_shape s = logits->shape;
    const int n = s.n, k = s.c * s.h * s.w;
    if (tb_softmax_validate(logits, dlogits) || tb_cpu_require_plain("softmax_xent", "logits", logits) ||
        tb_cpu_require_plain("softmax_xent", "dlogits", dlogits))
        return -1;
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return tb_softmax_bad_label(i, (int)labels[i], k);
    const float *x = logits->data;
    float *dx = dlogits ? dlogits->data : NULL;
    double loss = 0;
#pragma omp parallel for reduction(+ : loss) schedule(static)
    for (int i = 0; i < n; i++) {
        const float *row = x + (size_t)i * k;
        float max = row[0];
        for (int j = 1; j < k; j++)
            max = row[j] > max ? row[j] : max;
        double sum = 0;
        for (int j = 0; j < k; j++)
            sum += exp((double)row[j] - max);
        const double log_sum = log(sum);
        loss += log_sum - ((double)row[labels[i]] - max);
        if (dx) {
            float *drow = dx + (size_t)i * k;
            for (int j = 0; j < k; j++)
                drow[j] = (float)((exp((double)row[j] - max - log_sum) - (j == labels[i])) * grad_scale);
        }
    }
    *loss_sum_host += loss;
    return 0;
}
