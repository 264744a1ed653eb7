/* safetensors reader and writer (format in safetensors.h). */
#include "engine/safetensors.h"

#include "core/error.h" // uses: tb_fail, tb_calloc, tb_fail_prefix
#include "core/fsutil.h" // uses: tb_atomic_file, tb_atomic_begin, tb_atomic_write, tb_atomic_commit

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader copies bytes as they are"
#endif

/* The reference implementation refuses headers above 100 MB; so do we, so a
 * corrupt length cannot make us parse gigabytes. */
#define MAX_HEADER_BYTES (100u * 1000u * 1000u)

static const struct {
    const char *name;
    size_t size;
} dtypes[TB_ST_DTYPE_COUNT] = {
    [TB_ST_F64] = {"F64", 8}, [TB_ST_F32] = {"F32", 4}, [TB_ST_F16] = {"F16", 2}, [TB_ST_BF16] = {"BF16", 2},
    [TB_ST_I64] = {"I64", 8}, [TB_ST_I32] = {"I32", 4}, [TB_ST_I16] = {"I16", 2}, [TB_ST_I8] = {"I8", 1},
    [TB_ST_U8] = {"U8", 1},   [TB_ST_BOOL] = {"BOOL", 1},
};

int tb_st_dtype_parse(const char *name)
{
    for (int i = 0; name && i < TB_ST_DTYPE_COUNT; i++)
        if (!strcmp(name, dtypes[i].name))
            return i;
    return -1;
}

const char *tb_st_dtype_name(tb_st_dtype dt)
{
    return (unsigned)dt < TB_ST_DTYPE_COUNT ? dtypes[dt].name : "unknown";
}

size_t tb_st_dtype_size(tb_st_dtype dt) { return (unsigned)dt < TB_ST_DTYPE_COUNT ? dtypes[dt].size : 0; }

/* ---- reader ---------------------------------------------------------------- */

void tb_st_close(tb_st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->count; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    if (f->map)
        munmap(f->map, f->map_bytes);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* A non-negative JSON integer, or -1. */
static int64_t json_nonneg(json_object *o)
{
    if (!o || json_object_get_type(o) != json_type_int)
        return -1;
    errno = 0;
    int64_t v = json_object_get_int64(o);
    /* json-c clamps values above INT64_MAX and sets errno. */
    return (v < 0 || errno) ? -1 : v;
}

static int parse_metadata(tb_st_file *f, json_object *meta)
{
    if (json_object_get_type(meta) != json_type_object)
        return tb_fail("__metadata__ must be an object of strings");
    int n = json_object_object_length(meta);
    f->meta_keys = tb_calloc((size_t)n + 1, sizeof *f->meta_keys, "safetensors metadata");
    f->meta_values = tb_calloc((size_t)n + 1, sizeof *f->meta_values, "safetensors metadata");
    if (!f->meta_keys || !f->meta_values)
        return -1;
    json_object_object_foreach(meta, key, val)
    {
        if (json_object_get_type(val) != json_type_string)
            return tb_fail("__metadata__ value of \"%s\" is not a string", key);
        f->meta_keys[f->nmeta] = strdup(key);
        f->meta_values[f->nmeta] = strdup(json_object_get_string(val));
        if (!f->meta_keys[f->nmeta] || !f->meta_values[f->nmeta++])
            return tb_fail("out of memory reading __metadata__");
    }
    return 0;
}

/* Fills t from one header entry and checks it against the data section. */
static int parse_tensor(const char *name, json_object *e, size_t data_bytes, tb_st_tensor *t, size_t *begin)
{
    if (json_object_get_type(e) != json_type_object)
        return tb_fail("tensor \"%s\": entry is not an object", name);
    json_object *dt = NULL, *shape = NULL, *offs = NULL;
    json_object_object_foreach(e, key, val)
    {
        if (!strcmp(key, "dtype"))
            dt = val;
        else if (!strcmp(key, "shape"))
            shape = val;
        else if (!strcmp(key, "data_offsets"))
            offs = val;
        else
            return tb_fail("tensor \"%s\": unknown field \"%s\" (expected dtype, shape, data_offsets)", name, key);
    }
    if (!dt || !shape || !offs)
        return tb_fail("tensor \"%s\": missing %s", name, !dt ? "dtype" : !shape ? "shape" : "data_offsets");
    int d = json_object_get_type(dt) == json_type_string ? tb_st_dtype_parse(json_object_get_string(dt)) : -1;
    if (d < 0)
        return tb_fail("tensor \"%s\": unknown dtype %s (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)",
                       name, json_object_to_json_string(dt));
    t->dtype = (tb_st_dtype)d;
    if (json_object_get_type(shape) != json_type_array || json_object_array_length(shape) > TB_ST_MAX_DIMS)
        return tb_fail("tensor \"%s\": shape must be an array of at most %d dimensions", name, TB_ST_MAX_DIMS);
    t->ndim = (int)json_object_array_length(shape);
    size_t count = 1;
    for (int i = 0; i < t->ndim; i++) {
        int64_t v = json_nonneg(json_object_array_get_idx(shape, (size_t)i));
        if (v < 0)
            return tb_fail("tensor \"%s\": shape dimension %d is not a non-negative integer", name, i);
        if (v > 0 && count > SIZE_MAX / (size_t)v)
            return tb_fail("tensor \"%s\": shape overflows", name);
        t->shape[i] = v;
        count *= (size_t)v;
    }
    size_t size = dtypes[d].size;
    if (count > SIZE_MAX / size)
        return tb_fail("tensor \"%s\": shape overflows", name);
    t->count = count;
    t->bytes = count * size;
    int64_t b = -1, en = -1;
    if (json_object_get_type(offs) == json_type_array && json_object_array_length(offs) == 2) {
        b = json_nonneg(json_object_array_get_idx(offs, 0));
        en = json_nonneg(json_object_array_get_idx(offs, 1));
    }
    if (b < 0 || en < b)
        return tb_fail("tensor \"%s\": data_offsets must be [begin, end] with 0 <= begin <= end", name);
    if ((uint64_t)en > data_bytes)
        return tb_fail("tensor \"%s\": data_offsets [%lld, %lld] run past the %zu-byte data section (truncated file?)",
                       name, (long long)b, (long long)en, data_bytes);
    if ((uint64_t)(en - b) != t->bytes)
        return tb_fail("tensor \"%s\": data_offsets span %lld bytes but %s shape holds %zu", name,
                       (long long)(en - b), dtypes[d].name, t->bytes);
    *begin = (size_t)b;
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

static int parse_header(tb_st_file *f, const char *text, size_t len, size_t data_bytes,
                        const unsigned char *data)
{
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return tb_fail("out of memory parsing the header");
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        return tb_fail("header is not valid JSON: %s",
                       jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr));
    }
    int rc = 0;
    for (size_t i = end; i < len && !rc; i++)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r')
            rc = tb_fail("header has data after its JSON object at byte %zu", 8 + i);
    if (!rc && json_object_get_type(root) != json_type_object)
        rc = tb_fail("header is not a JSON object");
    if (rc) {
        json_object_put(root);
        return -1;
    }
    int n = json_object_object_length(root);
    f->tensors = tb_calloc((size_t)n + 1, sizeof *f->tensors, "safetensors header");
    size_t *order = tb_calloc(2 * ((size_t)n + 1), sizeof *order, "safetensors header");
    if (!f->tensors || !order) {
        free(order);
        json_object_put(root);
        return -1;
    }
    json_object_object_foreach(root, key, val)
    {
        if (!strcmp(key, "__metadata__")) {
            if ((rc = parse_metadata(f, val)))
                break;
            continue;
        }
        tb_st_tensor *t = &f->tensors[f->count];
        size_t begin = 0;
        if (!*key) {
            rc = tb_fail("a tensor has an empty name");
            break;
        }
        if ((rc = parse_tensor(key, val, data_bytes, t, &begin)))
            break;
        if (!(t->name = strdup(key))) {
            rc = tb_fail("out of memory reading the header");
            break;
        }
        t->data = data + begin;
        order[2 * f->count] = begin;
        order[2 * f->count + 1] = (size_t)f->count;
        f->count++;
    }
    /* Sorted by where their bytes start, each tensor must begin at or after
     * the furthest end seen so far: overlapping tensors would alias
     * silently.  Empty tensors occupy nothing. */
    if (!rc && f->count > 1) {
        qsort(order, (size_t)f->count, 2 * sizeof *order, cmp_begin);
        size_t reach = 0;
        const tb_st_tensor *holder = NULL;
        for (int i = 0; i < f->count && !rc; i++) {
            const tb_st_tensor *t = &f->tensors[order[2 * i + 1]];
            if (!t->bytes)
                continue;
            if (holder && order[2 * i] < reach)
                rc = tb_fail("tensors \"%s\" and \"%s\" overlap in the data section", holder->name, t->name);
            if (order[2 * i] + t->bytes > reach) {
                reach = order[2 * i] + t->bytes;
                holder = t;
            }
        }
    }
    free(order);
    json_object_put(root);
    return rc;
}

int tb_st_open(const char *path, tb_st_file *f)
{
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(path)))
        return tb_fail("out of memory opening %s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tb_fail("cannot open %s: %s", path, strerror(errno));
        tb_st_close(f);
        return -1;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = tb_fail("cannot stat %s: %s", path, strerror(errno));
    else if (st.st_size < 8)
        rc = tb_fail("%s: %lld bytes, too short for a safetensors file (8-byte header length first)", path,
                     (long long)st.st_size);
    if (!rc) {
        f->map_bytes = (size_t)st.st_size;
        f->map = mmap(NULL, f->map_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->map == MAP_FAILED) {
            f->map = NULL;
            rc = tb_fail("cannot map %s: %s", path, strerror(errno));
        }
    }
    close(fd);
    if (rc) {
        tb_st_close(f);
        return -1;
    }
    const unsigned char *p = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | p[i];
    if (hlen < 2 || hlen > MAX_HEADER_BYTES || hlen > f->map_bytes - 8)
        rc = tb_fail("header length %llu is impossible for a %zu-byte file (not a safetensors file, or truncated)",
                     (unsigned long long)hlen, f->map_bytes);
    else
        rc = parse_header(f, (const char *)p + 8, (size_t)hlen, f->map_bytes - 8 - (size_t)hlen, p + 8 + hlen);
    if (rc) {
        tb_fail_prefix("%s", path);
        tb_st_close(f);
        return -1;
    }
    return 0;
}

const tb_st_tensor *tb_st_find(const tb_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

const char *tb_st_meta(const tb_st_file *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key))
            return f->meta_values[i];
    return NULL;
}

static void shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

int tb_st_read_f32(const tb_st_file *f, const char *name, int ndim, const int64_t *want, float *dst, size_t count)
{
    const tb_st_tensor *t = tb_st_find(f, name);
    if (!t)
        return tb_fail("%s: no tensor \"%s\"", f->path, name);
    if (t->dtype != TB_ST_F32)
        return tb_fail("%s: tensor \"%s\" is %s, expected F32", f->path, name, tb_st_dtype_name(t->dtype));
    int same = want ? t->ndim == ndim : 1;
    for (int i = 0; want && same && i < ndim; i++)
        same = t->shape[i] == want[i];
    if (!same || t->count != count) {
        char got[96], exp[96];
        shape_str(got, sizeof got, t->ndim, t->shape);
        if (want)
            shape_str(exp, sizeof exp, ndim, want);
        else
            snprintf(exp, sizeof exp, "%zu elements", count);
        return tb_fail("%s: tensor \"%s\" has shape %s, expected %s", f->path, name, got, exp);
    }
    memcpy(dst, t->data, t->bytes);
    return 0;
}

/* ---- writer ---------------------------------------------------------------- */

typedef struct {
    char *name;
    tb_st_dtype dtype;
    int ndim;
    int64_t shape[TB_ST_MAX_DIMS];
    size_t bytes;
    void *data;
} entry;

struct tb_st_writer {
    entry *e;
    int n, cap;
    json_object *meta;
};

tb_st_writer *tb_st_writer_create(void)
{
    tb_st_writer *w = tb_calloc(1, sizeof *w, "safetensors writer");
    if (w && !(w->meta = json_object_new_object())) {
        free(w);
        tb_fail("out of memory creating a safetensors writer");
        return NULL;
    }
    return w;
}

void tb_st_writer_free(tb_st_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].data);
    }
    free(w->e);
    json_object_put(w->meta);
    free(w);
}

int tb_st_writer_add(tb_st_writer *w, const char *name, tb_st_dtype dt, int ndim, const int64_t *shape,
                     const void *data)
{
    if ((unsigned)dt >= TB_ST_DTYPE_COUNT || ndim < 0 || ndim > TB_ST_MAX_DIMS || !name || !*name ||
        !strcmp(name, "__metadata__"))
        return tb_fail("safetensors: cannot add tensor \"%s\": bad name, dtype or %d dimensions", name ? name : "",
                       ndim);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->e[i].name, name))
            return tb_fail("safetensors: tensor \"%s\" added twice", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        entry *e = realloc(w->e, (size_t)cap * sizeof *e);
        if (!e)
            return tb_fail("out of memory adding tensor \"%s\"", name);
        w->e = e;
        w->cap = cap;
    }
    entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return tb_fail("safetensors: tensor \"%s\" has negative dimension %d", name, i);
        e->shape[i] = shape[i];
        count *= (size_t)shape[i];
    }
    e->dtype = dt;
    e->ndim = ndim;
    e->bytes = count * dtypes[dt].size;
    e->name = strdup(name);
    e->data = malloc(e->bytes ? e->bytes : 1);
    if (!e->name || !e->data) {
        free(e->name);
        free(e->data);
        return tb_fail("out of memory adding tensor \"%s\" (%zu bytes)", name, e->bytes);
    }
    if (e->bytes)
        memcpy(e->data, data, e->bytes);
    w->n++;
    return 0;
}

int tb_st_writer_meta(tb_st_writer *w, const char *key, const char *value)
{
    json_object *v = json_object_new_string(value);
    if (!v || json_object_object_add(w->meta, key, v)) {
        json_object_put(v);
        return tb_fail("out of memory adding safetensors metadata %s", key);
    }
    return 0;
}

/* Adds val to obj, which then owns it; frees it on failure.  1 on failure. */
static int add_owned(json_object *obj, const char *key, json_object *val)
{
    if (val && json_object_object_add(obj, key, val) == 0)
        return 0;
    json_object_put(val);
    return 1;
}

/* The JSON header, padded with spaces so the data section starts 8-byte
 * aligned (readers that map the file can then use it in place). */
static char *build_header(tb_st_writer *w, size_t *len)
{
    json_object *root = json_object_new_object();
    int bad = !root;
    if (!bad && json_object_object_length(w->meta) > 0)
        bad = add_owned(root, "__metadata__", json_object_get(w->meta));
    size_t off = 0;
    for (int i = 0; i < w->n && !bad; i++) {
        entry *e = &w->e[i];
        json_object *t = json_object_new_object();
        bad = add_owned(root, e->name, t);
        json_object *shape = bad ? NULL : json_object_new_array();
        bad = bad || add_owned(t, "dtype", json_object_new_string(dtypes[e->dtype].name)) ||
              add_owned(t, "shape", shape);
        for (int k = 0; k < e->ndim && !bad; k++)
            bad = json_object_array_add(shape, json_object_new_int64(e->shape[k])) != 0;
        json_object *offs = bad ? NULL : json_object_new_array();
        bad = bad || add_owned(t, "data_offsets", offs) ||
              json_object_array_add(offs, json_object_new_int64((int64_t)off)) ||
              json_object_array_add(offs, json_object_new_int64((int64_t)(off + e->bytes)));
        off += e->bytes;
    }
    const char *s = bad ? NULL : json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    char *out = NULL;
    if (s) {
        size_t n = strlen(s), padded = (n + 8 + 7) / 8 * 8 - 8;
        if ((out = malloc(padded + 1))) {
            memcpy(out, s, n);
            memset(out + n, ' ', padded - n);
            out[padded] = 0;
            *len = padded;
        }
    }
    json_object_put(root);
    if (!out)
        tb_fail("out of memory building the safetensors header");
    return out;
}

/* Ctrl-C and SIGTERM during a save (a checkpoint is tens of MB): held back
 * until the file is whole and renamed, then delivered to the handler there was
 * before, so an interrupt never leaves a half-written temporary file.  A
 * second signal during the save means "stop now": the temporary file is
 * removed and the signals go to that handler at once. */
static const int guard_sigs[2] = {SIGINT, SIGTERM};
static struct sigaction guard_old[2];
static volatile sig_atomic_t guard_pending[2];
static char guard_tmp[4096];

/* Gives `count` signals to the saved handler (or the default action). */
static void guard_deliver(int k, int count)
{
    for (int n = 0; n < count; n++) {
        void (*h)(int) = guard_old[k].sa_handler;
        if (!(guard_old[k].sa_flags & SA_SIGINFO) && h != SIG_DFL && h != SIG_IGN)
            h(guard_sigs[k]);
        else if (h != SIG_IGN)
            raise(guard_sigs[k]); /* the default (dies), or an SA_SIGINFO handler */
    }
}

static void guard_handler(int sig)
{
    int k = sig == SIGTERM;
    guard_pending[k]++;
    if (guard_pending[0] + guard_pending[1] < 2)
        return;
    int e = errno;
    if (guard_tmp[0])
        unlink(guard_tmp);
    for (int i = 0; i < 2; i++)
        sigaction(guard_sigs[i], &guard_old[i], NULL);
    for (int i = 0; i < 2; i++) {
        int count = guard_pending[i];
        guard_pending[i] = 0;
        guard_deliver(i, count);
    }
    errno = e;
}

static void guard_start(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = guard_handler;
    sigemptyset(&sa.sa_mask);
    guard_tmp[0] = '\0';
    guard_pending[0] = guard_pending[1] = 0;
    for (int i = 0; i < 2; i++)
        sigaction(guard_sigs[i], &sa, &guard_old[i]);
}

static void guard_end(void)
{
    struct sigaction now;
    if (sigaction(SIGINT, NULL, &now) != 0 || now.sa_handler != guard_handler)
        return; /* a second signal already handed them back */
    for (int i = 0; i < 2; i++)
        sigaction(guard_sigs[i], &guard_old[i], NULL);
    guard_tmp[0] = '\0';
    for (int i = 0; i < 2; i++) {
        int count = guard_pending[i];
        guard_pending[i] = 0;
        for (int n = 0; n < count; n++)
            raise(guard_sigs[i]);
    }
}

/* Writes the file through core/fsutil's atomic writer: an unpredictable
 * O_EXCL temporary in the same folder, removed on any failure. */
static int save_file(tb_st_writer *w, const char *path, const char *header, size_t hlen)
{
    tb_atomic_file a;
    if (tb_atomic_begin(&a, path))
        return -1;
    snprintf(guard_tmp, sizeof guard_tmp, "%s", a.tmp);
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    if (tb_atomic_write(&a, lenbuf, 8) || tb_atomic_write(&a, header, hlen))
        return -1;
    for (int i = 0; i < w->n; i++)
        if (tb_atomic_write(&a, w->e[i].data, w->e[i].bytes))
            return -1;
    return tb_atomic_commit(&a);
}

int tb_st_writer_save(tb_st_writer *w, const char *path)
{
    size_t hlen = 0;
    char *header = build_header(w, &hlen);
    if (!header)
        return tb_fail_prefix("%s", path);
    guard_start();
    int rc = save_file(w, path, header, hlen);
    guard_end();
    free(header);
    return rc;
}
