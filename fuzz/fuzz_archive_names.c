/* The archive safety checks of datasets/extract.c.
 *
 * An input that looks like a tar file (ustar magic at byte 257) is extracted
 * with tb_extract_archive into scratch/x, and nothing may appear beside x
 * afterwards (an escape through "..", an absolute name or a symlink).
 * Any other input is "NAME\nLINK-TARGET": tb_extract_check_name and
 * tb_extract_link_inside are compared with a lexical resolver written here. */
#include "datasets/extract.h" // uses: tb_extract_archive, tb_extract_check_name, tb_extract_link_inside
#include "fuzz/fuzz_util.h" // uses: fuzz_path, fuzz_write, fuzz_dir

#include <dirent.h>
#include <ftw.h>

/* 1 when dirname(name)/target, resolved component by component from the
 * root, never climbs above it; a different formulation from extract.c's. */
static int resolves_inside(const char *name, const char *target)
{
    if (target[0] == '/')
        return 0;
    size_t depth = 0;
    const char *last = strrchr(name, '/');
    const char *parts[2] = {name, target};
    const char *ends[2] = {last ? last : name, target + strlen(target)};
    for (int k = 0; k < 2; k++) {
        const char *p = parts[k];
        while (p < ends[k]) {
            const char *q = p;
            while (q < ends[k] && *q != '/')
                q++;
            size_t len = (size_t)(q - p);
            if (len == 2 && p[0] == '.' && p[1] == '.') {
                if (depth == 0)
                    return 0;
                depth--;
            } else if (len > 0 && !(len == 1 && p[0] == '.')) {
                depth++;
            }
            p = q + 1;
        }
    }
    return 1;
}

static int has_dotdot(const char *name)
{
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += len + (slash != NULL);
    }
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void check_extraction(const uint8_t *data, size_t size)
{
    char archive[600], dest[600];
    fuzz_path(archive, sizeof archive, "in.tar");
    fuzz_path(dest, sizeof dest, "x");
    fuzz_write(archive, data, size);
    if (mkdir(dest, 0700) != 0) {
        perror(dest);
        abort();
    }
    tb_extract_archive(archive, dest);
    unlink(archive);
    /* Only x may be left in the scratch folder. */
    DIR *d = opendir(fuzz_dir());
    if (!d)
        abort();
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "x")) {
            fprintf(stderr, "fuzz_archive_names: extraction wrote '%s' outside its folder\n", e->d_name);
            abort();
        }
    closedir(d);
    nftw(dest, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 512 && memcmp(data + 257, "ustar", 5) == 0) {
        check_extraction(data, size);
        return 0;
    }
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = memchr(text, '\n', size);
    const char *target = "";
    if (nl) {
        *nl = '\0';
        target = nl + 1;
    }
    const char *name = text;
    int name_ok = tb_extract_check_name("fuzz", name) == 0;
    if (name_ok != (name[0] != '\0' && name[0] != '/' && !has_dotdot(name)))
        abort(); /* the name check disagrees with its contract */
    if (name_ok && tb_extract_link_inside(name, target) != resolves_inside(name, target)) {
        fprintf(stderr, "fuzz_archive_names: link '%s' -> '%s' judged wrongly\n", name, target);
        abort();
    }
    free(text);
    return 0;
}
