/* The primitive cache: build a oneDNN primitive once per key, bind its
 * arguments (with reorders where oneDNN chose a layout other than the
 * caller's), and run it with the caller's pointers. */
#include "core/error.h" // uses: tb_fail, tb_calloc
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_check, tb_cpu_md, tb_cpu_md_nchw, tb_cpu_md_1d, ...

#include <oneapi/dnnl/dnnl_debug.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Marks an arena memory as a scratchpad until build knows where those go. */
#define SCRATCH_OFFSET SIZE_MAX

static const char *status_advice(dnnl_status_t st)
{
    switch (st) {
    case dnnl_out_of_memory:
        return "try a smaller --batch-size or model width";
    case dnnl_unimplemented:
        return "oneDNN has no CPU implementation for this configuration; try other layer sizes";
    case dnnl_invalid_arguments:
        return "the shapes or parameters are inconsistent, which is a bug in the caller";
    default:
        return "rerun with DNNL_VERBOSE=1 to see what oneDNN was doing";
    }
}

int tb_cpu_check(dnnl_status_t st, const char *call)
{
    if (st == dnnl_success)
        return 0;
    return tb_fail("%s failed: %s; %s", call, dnnl_status2str(st), status_advice(st));
}

int tb_cpu_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dim_t *dims, dnnl_format_tag_t tag)
{
    return tb_cpu_check(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag),
                        "dnnl_memory_desc_init_by_tag");
}

int tb_cpu_md_nchw(dnnl_memory_desc_t *md, tb_shape s, dnnl_format_tag_t tag)
{
    const dnnl_dims_t dims = {s.n, s.c, s.h, s.w};
    return tb_cpu_md(md, 4, dims, tag);
}

int tb_cpu_md_1d(dnnl_memory_desc_t *md, dnnl_dim_t n)
{
    const dnnl_dims_t dims = {n};
    return tb_cpu_md(md, 1, dims, dnnl_a);
}

int tb_cpu_pd_create(tb_cpu *c, const void *op_desc, const_dnnl_primitive_attr_t attr,
                     const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd)
{
    *pd = NULL;
    return tb_cpu_check(dnnl_primitive_desc_create(pd, op_desc, attr ? attr : c->attr, c->engine, hint),
                        "dnnl_primitive_desc_create");
}

/* FNV-1a over the whole key. */
static size_t key_hash(const tb_cpu_key *key)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < sizeof *key; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

tb_cpu_prim *tb_cpu_find(tb_cpu *c, const tb_cpu_key *key)
{
    if (!c->nbuckets)
        return NULL;
    for (tb_cpu_prim *p = c->buckets[key_hash(key) & (c->nbuckets - 1)]; p; p = p->next)
        if (!memcmp(&p->key, key, sizeof *key))
            return p;
    return NULL;
}

static int cache_insert(tb_cpu *c, tb_cpu_prim *p)
{
    if (c->count >= c->nbuckets) {
        size_t n = c->nbuckets ? 2 * c->nbuckets : 64;
        tb_cpu_prim **nb = tb_calloc(n, sizeof *nb, "the oneDNN primitive cache");
        if (!nb)
            return -1;
        for (size_t i = 0; i < c->nbuckets; i++) {
            for (tb_cpu_prim *q = c->buckets[i], *next; q; q = next) {
                next = q->next;
                size_t h = key_hash(&q->key) & (n - 1);
                q->next = nb[h];
                nb[h] = q;
            }
        }
        free(c->buckets);
        c->buckets = nb;
        c->nbuckets = n;
    }
    size_t h = key_hash(&p->key) & (c->nbuckets - 1);
    p->next = c->buckets[h];
    c->buckets[h] = p;
    c->count++;
    if (p->key.op == TB_OP_CONV_FWD || p->key.op == TB_OP_CONV_BWD_DATA || p->key.op == TB_OP_CONV_BWD_WEIGHTS)
        c->conv_created++;
    return 0;
}

static void prim_free(tb_cpu_prim *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nargs; i++) {
        tb_cpu_arg *a = &p->args[i];
        dnnl_primitive_destroy(a->reorder);
        dnnl_memory_destroy(a->user);
        dnnl_memory_destroy(a->inner);
        dnnl_memory_destroy(a->reorder_scratch);
    }
    dnnl_memory_destroy(p->scratch);
    dnnl_primitive_destroy(p->prim);
    dnnl_primitive_desc_destroy(p->pd);
    free(p);
}

void tb_cpu_cache_free(tb_cpu *c)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (tb_cpu_prim *p = c->buckets[i], *next; p; p = next) {
            next = p->next;
            prim_free(p);
        }
    }
    free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = c->count = 0;
}

static int mem_create(tb_cpu *c, dnnl_memory_t *mem, const dnnl_memory_desc_t *md)
{
    return tb_cpu_check(dnnl_memory_create(mem, md, c->engine, DNNL_MEMORY_NONE), "dnnl_memory_create");
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Creates the primitive of pd and, when it needs one, its scratchpad memory
 * (placed in the arena's scratch region). */
static int prim_create(tb_cpu *c, tb_cpu_prim *p, const_dnnl_primitive_desc_t pd, dnnl_primitive_t *prim,
                       dnnl_memory_t *scratch, size_t *scratch_max)
{
    if (tb_cpu_check(dnnl_primitive_create(prim, pd), "dnnl_primitive_create"))
        return -1;
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = md ? dnnl_memory_desc_get_size(md) : 0;
    if (!bytes)
        return 0;
    if (mem_create(c, scratch, md))
        return -1;
    p->arena[p->narena++] = (tb_cpu_arena_mem){*scratch, SCRATCH_OFFSET};
    if (bytes > *scratch_max)
        *scratch_max = bytes;
    return 0;
}

/* Binds one argument: the caller's memory, and when the primitive wants
 * another layout, a buffer in that layout plus the reorder between them. */
static int bind_arg(tb_cpu *c, tb_cpu_prim *p, const tb_cpu_arg_spec *s, const dnnl_memory_desc_t *user,
                    size_t *inner_bytes, size_t *scratch_max)
{
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, s->arg);
    if (!want || want->ndims == 0)
        return tb_fail("the oneDNN primitive takes no execution argument %d; this is a bug in the backend",
                       s->arg);
    if (!user)
        user = want;
    tb_cpu_arg *a = &p->args[p->nargs++];
    a->arg = s->arg;
    a->role = s->role;
    a->output = s->output;
    if (mem_create(c, &a->user, user))
        return -1;
    dnnl_memory_t used = a->user;
    if (!dnnl_memory_desc_equal(user, want)) {
        if (mem_create(c, &a->inner, want))
            return -1;
        p->arena[p->narena++] = (tb_cpu_arena_mem){a->inner, *inner_bytes};
        *inner_bytes += align64(dnnl_memory_desc_get_size(want));
        dnnl_primitive_desc_t rpd;
        const dnnl_memory_desc_t *from = s->output ? want : user, *to = s->output ? user : want;
        if (tb_cpu_check(dnnl_reorder_primitive_desc_create(&rpd, from, c->engine, to, c->engine, c->attr),
                         "dnnl_reorder_primitive_desc_create"))
            return -1;
        int rc = prim_create(c, p, rpd, &a->reorder, &a->reorder_scratch, scratch_max);
        dnnl_primitive_desc_destroy(rpd);
        if (rc)
            return -1;
        used = a->inner;
    }
    p->exec[p->nexec++] = (dnnl_exec_arg_t){s->arg, used};
    return 0;
}

/* Makes the shared arena at least `bytes`; entries re-point on their next run. */
static int arena_reserve(tb_cpu *c, size_t bytes)
{
    if (bytes <= c->arena_bytes)
        return 0;
    free(c->arena);
    c->arena = aligned_alloc(64, align64(bytes));
    if (!c->arena) {
        c->arena_bytes = 0;
        return tb_fail("out of memory allocating %zu bytes for oneDNN layout buffers and scratchpads; "
                       "try a smaller --batch-size or model width",
                       bytes);
    }
    c->arena_bytes = bytes;
    c->arena_gen++;
    return 0;
}

/* p->pd is set: creates the primitive and binds its arguments. */
static int prim_setup(tb_cpu *c, tb_cpu_prim *p, const tb_cpu_arg_spec *specs, int nspecs,
                      const dnnl_memory_desc_t *const *user_mds)
{
    if (nspecs > TB_CPU_MAX_ARGS)
        return tb_fail("%d execution arguments, more than the backend's %d", nspecs, TB_CPU_MAX_ARGS);
    size_t inner_bytes = 0, scratch_max = 0;
    if (prim_create(c, p, p->pd, &p->prim, &p->scratch, &scratch_max))
        return -1;
    for (int i = 0; i < nspecs; i++)
        if (bind_arg(c, p, &specs[i], user_mds[specs[i].role], &inner_bytes, &scratch_max))
            return -1;
    if (p->scratch)
        p->exec[p->nexec++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch};
    for (int i = 0; i < p->narena; i++)
        if (p->arena[i].offset == SCRATCH_OFFSET)
            p->arena[i].offset = inner_bytes;
    p->arena_bytes = inner_bytes + scratch_max;
    return arena_reserve(c, p->arena_bytes);
}

tb_cpu_prim *tb_cpu_prim_build_pd(tb_cpu *c, const tb_cpu_key *key, dnnl_primitive_desc_t pd,
                                  const tb_cpu_arg_spec *specs, int nspecs, const dnnl_memory_desc_t *const *user_mds)
{
    tb_cpu_prim *p = tb_calloc(1, sizeof *p, "a oneDNN primitive cache entry");
    if (!p) {
        dnnl_primitive_desc_destroy(pd);
        return NULL;
    }
    p->key = *key;
    p->pd = pd;
    if (prim_setup(c, p, specs, nspecs, user_mds) || cache_insert(c, p)) {
        prim_free(p);
        return NULL;
    }
    return p;
}

tb_cpu_prim *tb_cpu_prim_build(tb_cpu *c, const tb_cpu_key *key, const void *op_desc,
                               const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                               const tb_cpu_arg_spec *specs, int nspecs, const dnnl_memory_desc_t *const *user_mds)
{
    dnnl_primitive_desc_t pd;
    if (tb_cpu_pd_create(c, op_desc, attr, hint, &pd))
        return NULL;
    return tb_cpu_prim_build_pd(c, key, pd, specs, nspecs, user_mds);
}

static int execute(tb_cpu *c, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args)
{
    return tb_cpu_check(dnnl_primitive_execute(prim, c->stream, nargs, args), "dnnl_primitive_execute");
}

static int run_reorder(tb_cpu *c, const tb_cpu_arg *a)
{
    dnnl_memory_t from = a->output ? a->inner : a->user, to = a->output ? a->user : a->inner;
    const dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, a->reorder_scratch}};
    return execute(c, a->reorder, a->reorder_scratch ? 3 : 2, args);
}

int tb_cpu_prim_run(tb_cpu *c, tb_cpu_prim *p, void *const *by_role)
{
    if (p->arena_gen != c->arena_gen) {
        for (int i = 0; i < p->narena; i++)
            if (tb_cpu_check(dnnl_memory_set_data_handle(p->arena[i].mem, (char *)c->arena + p->arena[i].offset),
                             "dnnl_memory_set_data_handle"))
                return -1;
        p->arena_gen = c->arena_gen;
    }
    for (int i = 0; i < p->nargs; i++)
        if (tb_cpu_check(dnnl_memory_set_data_handle(p->args[i].user, by_role[p->args[i].role]),
                         "dnnl_memory_set_data_handle"))
            return -1;
    for (int i = 0; i < p->nargs; i++)
        if (p->args[i].reorder && !p->args[i].output && run_reorder(c, &p->args[i]))
            return -1;
    if (execute(c, p->prim, p->nexec, p->exec))
        return -1;
    for (int i = 0; i < p->nargs; i++)
        if (p->args[i].reorder && p->args[i].output && run_reorder(c, &p->args[i]))
            return -1;
    return 0;
}

size_t tb_cpu_prim_arg_bytes(const tb_cpu_prim *p, int arg)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, arg);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}
