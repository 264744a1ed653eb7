/* Remembered settings (see config.h). */
#include "tui/config.h"

#include "core/error.h" // uses: tb_fail
#include "lab/export.h" // uses: tb_text_write_atomic

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tui_config_dir(char *out, size_t size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && *xdg == '/')
        n = snprintf(out, size, "%s/trainbench", xdg);
    else if (home && *home)
        n = snprintf(out, size, "%s/.config/trainbench", home);
    else
        return tb_fail("neither XDG_CONFIG_HOME nor HOME is set");
    return n > 0 && (size_t)n < size ? 0 : tb_fail("the configuration folder's path is too long");
}

int tui_mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return tb_fail("path too long: %.100s...", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST)
                return tb_fail("cannot create %s: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0755) && errno != EEXIST)
        return tb_fail("cannot create %s: %s", tmp, strerror(errno));
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int tui_config_load(const char *path, char *presets_dir, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : tb_fail("cannot read %s: %s", path, strerror(errno));
    char line[PATH_MAX + 64];
    int found = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n') && !feof(f)) {
            rc = tb_fail("%s: a line is too long", path);
            break;
        }
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#' || line[0] == ';')
            continue;
        *eq = '\0';
        char *k = trim(line), *v = trim(eq + 1);
        if (strcmp(k, "presets_dir") || !*v)
            continue; /* other or future settings */
        if (snprintf(presets_dir, size, "%s", v) >= (int)size) {
            rc = tb_fail("%s: presets_dir is too long", path);
            break;
        }
        found = 1;
    }
    fclose(f);
    return rc ? rc : found;
}

int tui_config_save(const char *path, const char *presets_dir)
{
    if (strchr(presets_dir, '\n'))
        return tb_fail("a folder name with a line break cannot be remembered");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (tui_mkdir_p(dir))
            return -1;
    }
    char text[PATH_MAX + 128];
    if (snprintf(text, sizeof text, "# trainbench tui settings\npresets_dir = %s\n", presets_dir) >= (int)sizeof text)
        return tb_fail("presets folder name too long");
    return tb_text_write_atomic(path, text);
}
