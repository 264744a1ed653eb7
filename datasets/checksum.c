/* File digests with OpenSSL 3's EVP interface (MD5 for the published
 * dataset sums, SHA-256 for anything newer). */
#include "datasets/checksum.h"
#include "core/error.h" // uses: tb_fail, tb_fail_prefix
#include "core/fsutil.h" // uses: tb_fopen_regular

#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_len(const char *algo) { return strcmp(algo, "md5") == 0 ? 32 : 64; }

int tb_checksum_parse(const char *spec, tb_checksum *out)
{
    memset(out, 0, sizeof *out);
    const char *colon = spec ? strchr(spec, ':') : NULL;
    if (!colon)
        return tb_fail("checksum '%s': expected md5:HEX or sha256:HEX", spec ? spec : "");
    size_t alen = (size_t)(colon - spec);
    if (alen == 3 && strncasecmp(spec, "md5", 3) == 0)
        strcpy(out->algo, "md5");
    else if (alen == 6 && strncasecmp(spec, "sha256", 6) == 0)
        strcpy(out->algo, "sha256");
    else
        return tb_fail("checksum '%s': unknown algorithm; use md5:HEX or sha256:HEX", spec);
    const char *hex = colon + 1;
    size_t n = strlen(hex);
    if ((int)n != hex_len(out->algo))
        return tb_fail("checksum '%s': a %s digest has %d hex digits, this one %zu", spec, out->algo,
                       hex_len(out->algo), n);
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)hex[i]))
            return tb_fail("checksum '%s': '%c' is not a hex digit", spec, hex[i]);
        out->hex[i] = (char)tolower((unsigned char)hex[i]);
    }
    return 0;
}

static const char *ssl_error(void)
{
    static _Thread_local char buf[256];
    unsigned long e = ERR_get_error();
    if (!e)
        return "no OpenSSL error recorded";
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

int tb_checksum_file(const char *path, const char *algo, char *hex)
{
    const char *name = strcmp(algo, "md5") == 0 ? "MD5" : strcmp(algo, "sha256") == 0 ? "SHA256" : NULL;
    if (!name)
        return tb_fail("checksum of %s: unknown algorithm '%s'", path, algo);
    FILE *f = tb_fopen_regular(path);
    if (!f)
        return tb_fail_prefix("checksum");
    int rc = -1;
    EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 20);
    if (!md || !ctx || !buf) {
        tb_fail("checksum of %s: cannot set up %s (%s)", path, name, md ? "out of memory" : ssl_error());
        goto done;
    }
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        tb_fail("checksum of %s: EVP_DigestInit_ex(%s) failed: %s", path, name, ssl_error());
        goto done;
    }
    size_t got;
    while ((got = fread(buf, 1, 1 << 20, f)) > 0)
        if (EVP_DigestUpdate(ctx, buf, got) != 1) {
            tb_fail("checksum of %s: EVP_DigestUpdate failed: %s", path, ssl_error());
            goto done;
        }
    if (ferror(f)) {
        tb_fail("checksum of %s: read error: %s", path, strerror(errno));
        goto done;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_DigestFinal_ex(ctx, digest, &dlen) != 1) {
        tb_fail("checksum of %s: EVP_DigestFinal_ex failed: %s", path, ssl_error());
        goto done;
    }
    for (unsigned i = 0; i < dlen; i++)
        sprintf(hex + 2 * i, "%02x", digest[i]);
    rc = 0;
done:
    free(buf);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    fclose(f);
    return rc;
}

int tb_checksum_verify(const char *path, const tb_checksum *want)
{
    char got[EVP_MAX_MD_SIZE * 2 + 1];
    if (tb_checksum_file(path, want->algo, got))
        return -1;
    if (strcmp(got, want->hex) != 0)
        return tb_fail("%s: %s checksum mismatch: got %s, expected %s; the download is damaged or not the "
                       "published file (pass --checksum %s:HEX for a repackaged archive)",
                       path, want->algo, got, want->hex, want->algo);
    return 0;
}
