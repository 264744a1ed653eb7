/* MATLAB v5 MAT file reader for struct arrays (see matfile.h).  Reference:
 * "MAT-File Format", The MathWorks, sections 1-3 (Level 5 MAT-files). */
#include "datasets/matfile.h"
#include "core/error.h" // uses: tb_fail

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum {
    miINT8 = 1, miUINT8, miINT16, miUINT16, miINT32, miUINT32, miSINGLE,
    miDOUBLE = 9, miINT64 = 12, miUINT64, miMATRIX, miCOMPRESSED, miUTF8, miUTF16
};
enum { mxSTRUCT = 2, mxCHAR = 4, mxDOUBLE = 6, mxUINT64 = 15 };

#define MAX_INFLATED ((size_t)256 << 20) /* a compressed variable larger than this is refused */

typedef struct {
    const char *label;
    const unsigned char *d;
    size_t n;
    int inflated;   /* d is data inflated from a miCOMPRESSED element */
    size_t z_off;   /* ... which starts at this file offset */
} mctx;

typedef struct {
    uint32_t type;
    size_t len, data, next;
} elem;

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int bad(const mctx *c, size_t off, const char *what)
{
    if (c->inflated)
        return tb_fail("%s: malformed MAT file: %s (offset %zu of the data inflated from the compressed element at "
                       "file offset %zu)",
                       c->label, what, off, c->z_off);
    return tb_fail("%s: malformed MAT file: %s (at file offset %zu)", c->label, what, off);
}

/* The data element whose tag is at p, inside [p, end).  pad: the element is
 * followed by padding to a multiple of 8 bytes. */
static int read_tag(const mctx *c, size_t p, size_t end, int pad, elem *e)
{
    memset(e, 0, sizeof *e);
    if (p > end || end - p < 8)
        return bad(c, p, "a data element tag runs past its end");
    uint32_t w0 = le32(c->d + p), w1 = le32(c->d + p + 4);
    if (w0 >> 16) { /* small element: type and length in one word, data in the next */
        e->type = w0 & 0xffff;
        e->len = w0 >> 16;
        if (e->len > 4)
            return bad(c, p, "a small data element longer than 4 bytes");
        e->data = p + 4;
        e->next = p + 8;
        return 0;
    }
    e->type = w0;
    e->len = w1;
    e->data = p + 8;
    if (e->len > end - e->data)
        return bad(c, p, "a data element runs past the end of what holds it");
    size_t padded = pad ? e->len + (8 - e->len % 8) % 8 : e->len;
    e->next = padded > end - e->data ? end : e->data + padded;
    return 0;
}

static size_t type_size(uint32_t t)
{
    switch (t) {
    case miINT8: case miUINT8: case miUTF8: return 1;
    case miINT16: case miUINT16: case miUTF16: return 2;
    case miINT32: case miUINT32: case miSINGLE: return 4;
    case miDOUBLE: case miINT64: case miUINT64: return 8;
    default: return 0;
    }
}

static double number_at(const unsigned char *p, uint32_t t)
{
    uint64_t u = 0;
    size_t sz = type_size(t);
    for (size_t i = 0; i < sz; i++)
        u |= (uint64_t)p[i] << (8 * i);
    switch (t) {
    case miINT8: return (int8_t)u;
    case miUINT8: return (uint8_t)u;
    case miINT16: return (int16_t)u;
    case miUINT16: return (uint16_t)u;
    case miINT32: return (int32_t)u;
    case miUINT32: return (uint32_t)u;
    case miINT64: return (double)(int64_t)u;
    case miUINT64: return (double)u;
    case miSINGLE: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); return f; }
    default: { double d; memcpy(&d, &u, 8); return d; } /* miDOUBLE */
    }
}

typedef struct {
    unsigned cls;
    int complex;
    size_t nelem;
    size_t name, name_len; /* offset and length of the array name */
    size_t p, end;         /* what follows the name */
} mhead;

/* Array flags, dimensions and name of the miMATRIX whose data is [p, end). */
static int matrix_head(const mctx *c, size_t p, size_t end, mhead *h)
{
    elem f, dm, nm;
    if (read_tag(c, p, end, 1, &f))
        return -1;
    if ((f.type != miUINT32 && f.type != miINT32) || f.len != 8)
        return bad(c, p, "a matrix does not start with its array flags");
    uint32_t flags = le32(c->d + f.data);
    h->cls = flags & 0xff;
    h->complex = (flags & 0x800) != 0;
    if (read_tag(c, f.next, end, 1, &dm))
        return -1;
    if (dm.type != miINT32 || dm.len < 8 || dm.len % 4)
        return bad(c, f.next, "a matrix has no valid dimensions element");
    uint64_t count = 1;
    for (size_t i = 0; i < dm.len / 4; i++) {
        int32_t v = (int32_t)le32(c->d + dm.data + 4 * i);
        if (v < 0)
            return bad(c, dm.data + 4 * i, "a negative dimension");
        if (v && count > ((uint64_t)1 << 40) / (uint64_t)v)
            return bad(c, dm.data + 4 * i, "dimensions too large");
        count *= (uint64_t)v;
    }
    h->nelem = (size_t)count;
    if (read_tag(c, dm.next, end, 1, &nm))
        return -1;
    if (nm.type != miINT8 && nm.type != miUINT8)
        return bad(c, dm.next, "a matrix has no array name element");
    h->name = nm.data;
    h->name_len = strnlen((const char *)c->d + nm.data, nm.len);
    h->p = nm.next;
    h->end = end;
    return 0;
}

static int read_number(const mctx *c, const mhead *h, tb_mat_value *v)
{
    if (h->p >= h->end && h->nelem == 0)
        return 0; /* an empty matrix without a data element */
    elem r;
    if (read_tag(c, h->p, h->end, 1, &r))
        return -1;
    size_t sz = type_size(r.type);
    if (!sz || r.type == miUTF8 || r.type == miUTF16)
        return bad(c, h->p, "a numeric matrix stored as a type that is not a number");
    if (r.len % sz || r.len / sz != h->nelem)
        return bad(c, h->p, "a numeric matrix's data does not match its dimensions");
    v->count = h->nelem;
    if (v->count) {
        v->num = malloc(sizeof *v->num * v->count);
        if (!v->num)
            return tb_fail("%s: out of memory", c->label);
        for (size_t i = 0; i < v->count; i++)
            v->num[i] = number_at(c->d + r.data + i * sz, r.type);
    }
    return 0;
}

static int read_chars(const mctx *c, const mhead *h, tb_mat_value *v)
{
    size_t count = 0, sz = 1;
    elem r = {0, 0, h->p, h->p};
    if (h->p < h->end || h->nelem) {
        if (read_tag(c, h->p, h->end, 1, &r))
            return -1;
        sz = r.type == miUTF16 || r.type == miUINT16 ? 2 : r.type == miUINT8 || r.type == miUTF8 ? 1 : 0;
        if (!sz)
            return bad(c, h->p, "a char array stored as a type other than miUTF16, miUINT16, miUINT8, miUTF8");
        if (r.len % sz || (r.type != miUTF8 && r.len / sz != h->nelem))
            return bad(c, h->p, "a char array's data does not match its dimensions");
        count = r.len / sz;
    }
    v->str = malloc(count + 1);
    if (!v->str)
        return tb_fail("%s: out of memory", c->label);
    for (size_t i = 0; i < count; i++) {
        unsigned u = sz == 2 ? c->d[r.data + 2 * i] | (unsigned)c->d[r.data + 2 * i + 1] << 8 : c->d[r.data + i];
        v->str[i] = u && u < 128 ? (char)u : '?';
    }
    v->str[count] = '\0';
    v->count = count;
    return 0;
}

/* The struct array whose head is h: field names, then per element one
 * miMATRIX per field. */
static int read_struct(const mctx *c, const mhead *h, tb_mat_struct *s)
{
    elem fl, fn;
    if (read_tag(c, h->p, h->end, 1, &fl))
        return -1;
    if (fl.type != miINT32 || fl.len != 4)
        return bad(c, h->p, "a struct has no field name length");
    int32_t len = (int32_t)le32(c->d + fl.data);
    if (len <= 0)
        return bad(c, fl.data, "a struct's field name length is not positive");
    if (read_tag(c, fl.next, h->end, 1, &fn))
        return -1;
    if ((fn.type != miINT8 && fn.type != miUINT8) || fn.len % (size_t)len)
        return bad(c, fl.next, "a struct's field names do not match the field name length");
    s->nfields = fn.len / (size_t)len;
    s->nelem = h->nelem;
    size_t p = fn.next;
    /* Every field value takes at least an 8-byte tag. */
    if (s->nfields && s->nelem > (h->end - p) / 8 / s->nfields)
        return bad(c, p, "a struct array has more elements than its data can hold");
    s->names = calloc(s->nfields ? s->nfields : 1, sizeof *s->names);
    s->values = calloc(s->nfields && s->nelem ? s->nfields * s->nelem : 1, sizeof *s->values);
    if (!s->names || !s->values)
        return tb_fail("%s: out of memory", c->label);
    for (size_t f = 0; f < s->nfields; f++) {
        const char *name = (const char *)c->d + fn.data + f * (size_t)len;
        size_t nl = strnlen(name, (size_t)len);
        if (!(s->names[f] = malloc(nl + 1)))
            return tb_fail("%s: out of memory", c->label);
        memcpy(s->names[f], name, nl);
        s->names[f][nl] = '\0';
    }
    for (size_t i = 0; i < s->nelem * s->nfields; i++) {
        elem m;
        if (read_tag(c, p, h->end, 1, &m))
            return -1;
        if (m.type != miMATRIX)
            return bad(c, p, "a struct field value is not a miMATRIX element");
        tb_mat_value *v = &s->values[i];
        if (m.len) {
            mhead fh;
            if (matrix_head(c, m.data, m.data + m.len, &fh))
                return -1;
            if (!fh.complex && fh.cls >= mxDOUBLE && fh.cls <= mxUINT64) {
                v->kind = TB_MAT_NUMBER;
                if (read_number(c, &fh, v))
                    return -1;
            } else if (!fh.complex && fh.cls == mxCHAR) {
                v->kind = TB_MAT_CHAR;
                if (read_chars(c, &fh, v))
                    return -1;
            }
        }
        p = m.next;
    }
    return 0;
}

static int inflate_elem(const mctx *c, const elem *e, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return tb_fail("%s: cannot start zlib", c->label);
    size_t cap = e->len < 4096 ? 16384 : e->len * 4, used = 0;
    unsigned char *buf = NULL;
    int rc = 0, zr = Z_OK;
    z.next_in = (unsigned char *)c->d + e->data;
    z.avail_in = (uInt)e->len;
    while (zr != Z_STREAM_END) {
        if (!buf || used == cap) {
            if (buf && cap >= MAX_INFLATED) {
                rc = bad(c, e->data - 8, "a compressed element inflates to more than 256 MB");
                break;
            }
            if (buf)
                cap = cap * 2 > MAX_INFLATED ? MAX_INFLATED : cap * 2;
            unsigned char *b = realloc(buf, cap);
            if (!b) {
                rc = tb_fail("%s: out of memory inflating a compressed element", c->label);
                break;
            }
            buf = b;
        }
        z.next_out = buf + used;
        z.avail_out = (uInt)(cap - used);
        zr = inflate(&z, Z_NO_FLUSH);
        used = cap - z.avail_out;
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_in)) {
            rc = bad(c, e->data - 8, zr == Z_BUF_ERROR ? "a compressed element is truncated"
                                                        : "a compressed element is not valid zlib data");
            break;
        }
    }
    inflateEnd(&z);
    if (rc) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = used;
    return 0;
}

/* Looks for `var` among the miMATRIX elements in c->d[p, end).  1: found
 * and read, 0: not there, -1: an error. */
static int find_in(const mctx *c, size_t p, size_t end, int top, const char *var, tb_mat_struct *s)
{
    while (p < end) {
        elem e;
        if (read_tag(c, p, end, 1, &e))
            return -1;
        if (e.type == miCOMPRESSED && top) {
            e.next = e.data + e.len; /* compressed elements are not padded */
            unsigned char *buf;
            size_t n;
            if (inflate_elem(c, &e, &buf, &n))
                return -1;
            mctx z = {c->label, buf, n, 1, p};
            int r = find_in(&z, 0, n, 0, var, s);
            free(buf);
            if (r)
                return r;
        } else if (e.type == miMATRIX && e.len) {
            mhead h;
            if (matrix_head(c, e.data, e.data + e.len, &h))
                return -1;
            if (h.name_len == strlen(var) && !memcmp(c->d + h.name, var, h.name_len)) {
                if (h.cls != mxSTRUCT)
                    return tb_fail("%s: the variable '%s' is not a struct array (class %u)", c->label, var, h.cls);
                return read_struct(c, &h, s) ? -1 : 1;
            }
        } else if (e.type != miMATRIX) {
            return bad(c, p, top ? "a top-level element is neither miMATRIX nor miCOMPRESSED"
                                 : "a compressed element holds something other than miMATRIX");
        }
        p = e.next;
    }
    return 0;
}

int tb_mat_read_struct(const char *label, const void *data, size_t size, const char *var, tb_mat_struct *out)
{
    memset(out, 0, sizeof *out);
    const unsigned char *d = data;
    mctx c = {label, d, size, 0, 0};
    if (size < 128)
        return tb_fail("%s: not a MAT file: %zu bytes, shorter than the 128-byte header", label, size);
    if (d[126] == 'M' && d[127] == 'I')
        return tb_fail("%s: a big-endian MAT file; only little-endian ones are supported", label);
    if (d[126] != 'I' || d[127] != 'M')
        return tb_fail("%s: not a MATLAB v5 MAT file (no endian indicator at offset 126)", label);
    if (d[124] != 0x00 || d[125] != 0x01)
        return tb_fail("%s: MAT file version 0x%02x%02x at offset 124; only 0x0100 (v5/v7) is supported", label,
                       d[125], d[124]);
    int r = find_in(&c, 128, size, 1, var, out);
    if (r <= 0)
        tb_mat_struct_free(out);
    if (r == 0)
        return tb_fail("%s: no variable '%s'", label, var);
    return r < 0 ? -1 : 0;
}

int tb_mat_field(const tb_mat_struct *s, const char *name)
{
    for (size_t f = 0; f < s->nfields; f++)
        if (s->names[f] && !strcmp(s->names[f], name))
            return (int)f;
    return -1;
}

void tb_mat_struct_free(tb_mat_struct *s)
{
    if (s->values)
        for (size_t i = 0; i < s->nelem * s->nfields; i++) {
            free(s->values[i].num);
            free(s->values[i].str);
        }
    if (s->names)
        for (size_t f = 0; f < s->nfields; f++)
            free(s->names[f]);
    free(s->values);
    free(s->names);
    memset(s, 0, sizeof *s);
}
