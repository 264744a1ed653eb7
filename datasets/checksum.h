/* Checksums of downloaded files (OpenSSL EVP): parsing "md5:HEX" /
 * "sha256:HEX" and verifying a file against one.
 *
 * Every function returns 0 or -1 after tb_fail() with a message that names
 * the file, URL or archive entry and says what to do. */
#ifndef TB_CHECKSUM_H
#define TB_CHECKSUM_H

#include <stddef.h>

typedef struct {
    char algo[8]; /* "md5" or "sha256" */
    char hex[65]; /* lower-case hex digest */
} tb_checksum;

/* Parses "md5:HEX" or "sha256:HEX" (hex of the right length, any case). */
int tb_checksum_parse(const char *spec, tb_checksum *out);
/* Hex digest of a whole file; `hex` holds at least 65 bytes. */
int tb_checksum_file(const char *path, const char *algo, char *hex);
/* Fails (naming both sums) unless the file's digest is `want`. */
int tb_checksum_verify(const char *path, const tb_checksum *want);

#endif
