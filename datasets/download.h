/* Downloads with libcurl: resumable, with a stall timeout and a size limit.
 *
 * Every function returns 0 or -1 after tb_fail() with a message that names
 * the file, URL or archive entry and says what to do. */
#ifndef TB_DOWNLOAD_H
#define TB_DOWNLOAD_H

typedef struct {
    long stall_timeout_s; /* fail when under min_speed for this long (default 60) */
    long min_speed;       /* bytes/s floor a real mirror never drops to (default 1024) */
    long long max_bytes;  /* cut off (and delete the .part) past this size; 0: no limit */
    long connect_timeout_s;
    int quiet;            /* no progress output */
} tb_download_options;

void tb_download_options_defaults(tb_download_options *o);
/* Downloads `url` (http, https, file) to `dest`.  The bytes go to
 * dest + ".part" first; an existing .part is resumed with a range request
 * (restarted when the server ignores ranges).  Renamed to `dest` when the
 * transfer completes; the caller verifies the checksum. */
int tb_download_url(const char *url, const char *dest, const tb_download_options *o);

#endif
