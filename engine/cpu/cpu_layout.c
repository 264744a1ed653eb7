/* Activation layouts: which oneDNN format a tensor's layout tag means, and
 * convert(), the reorder between them.
 *
 * The native layout is what the convolutions run fastest on: format_tag_any
 * makes oneDNN 2.6 pick nChw16c on this AVX-512 CPU for every ResNet layer
 * whose channel count 16 divides.  Other counts stay plain NCHW.  For 8
 * channels (the :w8 models' first stage) oneDNN picks a padded nChw16c,
 * twice the bytes; nChw8c instead runs avx2 kernels whose rounding differs
 * from the avx512 ones PyTorch gets, enough to take the 20-step PyTorch
 * oracle test (torch-training) past its bounds, so those stay plain too. */
#include "core/error.h" // uses: tb_fail, tb_fail_prefix
#include "engine/cpu/cpu_internal.h" // uses: tb_cpu_native_tag, tb_cpu_tag, tb_cpu_md_tensor, tb_cpu_md_nchw, ...

#include <string.h>

dnnl_format_tag_t tb_cpu_native_tag(int channels)
{
    return channels % 16 == 0 ? dnnl_nChw16c : dnnl_nchw;
}

dnnl_format_tag_t tb_cpu_tag(const tb_tensor *t)
{
    if (t->layout == TB_LAYOUT_PLAIN)
        return dnnl_nchw;
    if (t->layout == TB_LAYOUT_NATIVE)
        return tb_cpu_native_tag(t->shape.c);
    tb_fail("tensor " TB_SHAPE_FMT " has layout tag %d, which the cpu backend does not know; "
            "this is a bug in the caller (use TB_LAYOUT_PLAIN or TB_LAYOUT_NATIVE)",
            TB_SHAPE_ARG(t->shape), (int)t->layout);
    return dnnl_format_tag_undef;
}

int tb_cpu_md_tensor(dnnl_memory_desc_t *md, const tb_tensor *t)
{
    dnnl_format_tag_t tag = tb_cpu_tag(t);
    return tag == dnnl_format_tag_undef ? -1 : tb_cpu_md_nchw(md, t->shape, tag);
}

int tb_cpu_require_plain(const char *op, const char *name, const tb_tensor *t)
{
    if (!t || tb_cpu_tag(t) == dnnl_nchw)
        return 0;
    return tb_fail("%s: %s (" TB_SHAPE_FMT ") is in the backend's native layout, but %s reads plain NCHW; "
                   "convert() it to a plain tensor first",
                   op, name, TB_SHAPE_ARG(t->shape), op);
}

enum { ROLE_SRC, ROLE_DST, ROLE_COUNT };

static tb_cpu_prim *convert_build(tb_cpu *c, const tb_cpu_key *key, const dnnl_memory_desc_t *from,
                                  const dnnl_memory_desc_t *to)
{
    static const tb_cpu_arg_spec args[2] = {{DNNL_ARG_FROM, ROLE_SRC, 0}, {DNNL_ARG_TO, ROLE_DST, 1}};
    dnnl_primitive_desc_t pd;
    if (tb_cpu_check(dnnl_reorder_primitive_desc_create(&pd, from, c->engine, to, c->engine, c->attr),
                     "dnnl_reorder_primitive_desc_create"))
        return NULL;
    const dnnl_memory_desc_t *user_mds[ROLE_COUNT] = {from, to};
    return tb_cpu_prim_build_pd(c, key, pd, args, 2, user_mds);
}

int tb_cpu_convert(tb_backend *b, const tb_tensor *src, tb_tensor *dst)
{
    if (!tb_same_shape(src->shape, dst->shape))
        return tb_shape_mismatch("convert", "dst", dst->shape, src->shape);
    dnnl_format_tag_t from = tb_cpu_tag(src), to = tb_cpu_tag(dst);
    if (from == dnnl_format_tag_undef || to == dnnl_format_tag_undef)
        return tb_fail_prefix("convert");
    size_t count = tb_shape_count(src->shape);
    if (count == 0)
        return 0;
    if (src->data == dst->data)
        return from == to ? 0 : tb_fail("convert: src and dst share memory but differ in layout; use two buffers");
    if (from == to) {
        memcpy(dst->data, src->data, count * sizeof(float));
        return 0;
    }
    tb_cpu *c = tb_cpu_of(b);
    const tb_shape s = src->shape;
    tb_cpu_key key = {TB_OP_CONVERT, {s.n, s.c, s.h, s.w, (int)from, (int)to}};
    tb_cpu_prim *p = tb_cpu_find(c, &key);
    if (!p) {
        dnnl_memory_desc_t fmd, tmd;
        if (!tb_cpu_md_tensor(&fmd, src) && !tb_cpu_md_tensor(&tmd, dst))
            p = convert_build(c, &key, &fmd, &tmd);
    }
    void *const by_role[ROLE_COUNT] = {src->data, dst->data};
    if (!p || tb_cpu_prim_run(c, p, by_role))
        return tb_fail_prefix("convert of " TB_SHAPE_FMT " between layouts", TB_SHAPE_ARG(s));
    return 0;
}
