/* Downloads with libcurl: into DEST.part, resumed with a range request when
 * a .part is left from an earlier attempt, renamed to DEST when complete.
 * Follows redirects; a transfer under the speed floor (1 kB/s) for the stall
 * timeout fails with a message saying that running again resumes it: a
 * server dripping a byte at a time is a stall too.  A body growing past the
 * limit the caller knows (the published file's size, with a margin) is cut
 * off and deleted, so an endless response cannot fill the disk. */
#include "datasets/download.h"
#include "core/error.h" // uses: tb_fail, tb_last_error
#include "core/fsutil.h" // uses: tb_open_regular

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void tb_download_options_defaults(tb_download_options *o)
{
    memset(o, 0, sizeof *o);
    o->stall_timeout_s = 60;
    o->min_speed = 1024;
    o->connect_timeout_s = 30;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct {
    FILE *f;
    const char *part;
    int write_errno;     /* why fwrite failed (disk full, ...) */
    curl_off_t offset;   /* bytes already in .part when this transfer started */
    curl_off_t received; /* bytes written by this transfer */
    long long max_bytes; /* 0: no limit */
    int too_big;         /* on_data stopped at max_bytes */
    int tty, quiet;
    double t0, last;     /* start, last progress output */
    int last_decile;
    const char *label;
} transfer;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    transfer *t = arg;
    size_t bytes = size * n;
    if (t->max_bytes > 0 && (long long)(t->offset + t->received) + (long long)bytes > t->max_bytes) {
        t->too_big = 1;
        return 0;
    }
    t->received += (curl_off_t)bytes;
    if (fwrite(ptr, 1, bytes, t->f) != bytes) {
        t->write_errno = errno ? errno : EIO;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    return bytes;
}

static void human(double bytes, char *out, size_t n)
{
    if (bytes >= 1e9)
        snprintf(out, n, "%.2f GB", bytes / 1e9);
    else if (bytes >= 1e6)
        snprintf(out, n, "%.1f MB", bytes / 1e6);
    else
        snprintf(out, n, "%.0f kB", bytes / 1e3);
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)ultotal;
    (void)ulnow;
    transfer *t = arg;
    if (t->quiet)
        return 0;
    double now = now_s(), elapsed = now - t->t0;
    double done = (double)(t->offset + dlnow), total = dltotal > 0 ? (double)(t->offset + dltotal) : 0;
    double rate = elapsed > 0 ? dlnow / elapsed : 0;
    char a[32], b[32], r[32];
    human(done, a, sizeof a);
    human(total, b, sizeof b);
    human(rate, r, sizeof r);
    if (t->tty) {
        if (now - t->last < 0.2 && !(total > 0 && done >= total))
            return 0;
        t->last = now;
        int width = 24, fill = total > 0 ? (int)(width * done / total) : 0;
        if (total > 0 && rate > 0)
            fprintf(stderr, "\r  %s [%.*s%*s] %s / %s  %s/s  ETA %.0fs   ", t->label, fill,
                    "========================", width - fill, "", a, b, r, (total - done) / rate);
        else
            fprintf(stderr, "\r  %s %s  %s/s   ", t->label, a, r);
    } else {
        /* Logs get a line per 10% (or every 10 s without a known size). */
        int decile = total > 0 ? (int)(10 * done / total) : (int)(elapsed / 10);
        if (decile <= t->last_decile)
            return 0;
        t->last_decile = decile;
        fprintf(stderr, "  %s: %s of %s (%s/s)\n", t->label, a, total > 0 ? b : "?", r);
    }
    return 0;
}

static int open_part(transfer *t, int restart)
{
    /* Never through a link, and never into a FIFO or device planted at the .part's name. */
    int fd = tb_open_regular(t->part, O_WRONLY | O_CREAT | (restart ? O_TRUNC : O_APPEND));
    if (fd < 0)
        return -1;
    t->f = fdopen(fd, restart ? "wb" : "ab");
    if (!t->f) {
        close(fd);
        return tb_fail("cannot write %s: %s", t->part, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(t->f), &st) != 0)
        return tb_fail("cannot stat %s: %s", t->part, strerror(errno));
    t->offset = (curl_off_t)st.st_size;
    return 0;
}

/* One transfer attempt; *range_refused is set when the server could not
 * resume, so the caller can start over from byte 0. */
static int transfer_once(const char *url, transfer *t, const tb_download_options *o, int *range_refused)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    if (!c)
        return tb_fail("download of %s: curl_easy_init failed (out of memory?)", url);
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                                             \
    if (rc == CURLE_OK)                                                                                           \
    rc = curl_easy_setopt(c, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, t);
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, 10L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https,file");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FAILONERROR, 1L);
    SET(CURLOPT_LOW_SPEED_LIMIT, o->min_speed > 0 ? o->min_speed : 1L);
    if (o->max_bytes > 0) /* refused up front when the server announces more */
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(o->max_bytes - t->offset > 0 ? o->max_bytes - t->offset : 1));
    SET(CURLOPT_LOW_SPEED_TIME, o->stall_timeout_s);
    SET(CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s);
    SET(CURLOPT_USERAGENT, "trainbench/0.1 (libcurl)");
    SET(CURLOPT_RESUME_FROM_LARGE, t->offset);
#undef SET
    if (rc != CURLE_OK) {
        curl_easy_cleanup(c);
        return tb_fail("download of %s: cannot configure libcurl: %s", url, curl_easy_strerror(rc));
    }
    t->t0 = t->last = now_s();
    t->last_decile = 0;
    t->received = 0;
    t->too_big = 0;
    t->max_bytes = o->max_bytes;
    rc = curl_easy_perform(c);
    long status = 0;
    curl_off_t got = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &got);
    curl_easy_cleanup(c);
    if (t->tty && !t->quiet)
        fprintf(stderr, "\n");
    long long have = (long long)(t->offset + got);
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (t->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        t->too_big = 1;
        return tb_fail("download of %s: the server sends more than %lld bytes, more than the published file; "
                       "the download was cut off and deleted (check --mirror)",
                       url, o->max_bytes);
    }
    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_RANGE_ERROR:
    case CURLE_BAD_DOWNLOAD_RESUME:
        *range_refused = 1;
        return tb_fail("download of %s: the server cannot resume from byte %lld (%s)", url, (long long)t->offset,
                       detail);
    case CURLE_HTTP_RETURNED_ERROR:
        if (status == 416 && t->offset > 0) { /* the .part is already whole (or longer): let the checksum judge */
            return 0;
        }
        return tb_fail("download of %s: the server answered HTTP %ld; check the URL or --mirror", url, status);
    case CURLE_OPERATION_TIMEDOUT:
        return tb_fail("download of %s stalled: under %ld bytes/s for %ld s (%lld bytes so far, kept in %s); run "
                       "the same command again to resume",
                       url, o->min_speed > 0 ? o->min_speed : 1L, o->stall_timeout_s, have, t->part);
    case CURLE_WRITE_ERROR:
        if (t->write_errno)
            return tb_fail("download of %s: cannot write %s: %s%s", url, t->part, strerror(t->write_errno),
                           t->write_errno == ENOSPC ? "; free some space or use --root on another disk" : "");
        break;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return tb_fail("download of %s was cut off after %lld bytes (%s); they are kept in %s: run the same "
                       "command again to resume",
                       url, have, detail, t->part);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return tb_fail("download of %s: cannot connect (%s); check the network, or use --mirror URL or --from FILE",
                       url, detail);
    case CURLE_FILE_COULDNT_READ_FILE:
        return tb_fail("download of %s: cannot read the file (%s); check the --mirror path", url, detail);
    default:
        break;
    }
    return tb_fail("download of %s failed after %lld bytes: %s (curl error %d)", url, have, detail, (int)rc);
}

int tb_download_url(const char *url, const char *dest, const tb_download_options *o)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return tb_fail("libcurl initialisation failed: %s", curl_easy_strerror(curl_init_rc));
    /* libcurl opens a file:// path with a blocking open(): a FIFO there would hang before any timeout. */
    struct stat src;
    if (!strncmp(url, "file://", 7) && stat(url + 7, &src) == 0 && !S_ISREG(src.st_mode))
        return tb_fail("download of %s: %s is not a regular file; check the --mirror path", url, url + 7);
    char part[4200];
    if (snprintf(part, sizeof part, "%s.part", dest) >= (int)sizeof part)
        return tb_fail("download target %s: path too long", dest);
    transfer t = {0};
    t.part = part;
    t.quiet = o->quiet;
    t.tty = isatty(STDERR_FILENO);
    const char *slash = strrchr(dest, '/');
    t.label = slash ? slash + 1 : dest;
    if (open_part(&t, 0))
        return -1;
    if (o->max_bytes > 0 && t.offset > o->max_bytes) { /* left by an older, unlimited run: not resumable */
        fclose(t.f);
        if (open_part(&t, 1))
            return -1;
    }
    if (t.offset > 0 && !o->quiet)
        fprintf(stderr, "  resuming %s at byte %lld\n", t.label, (long long)t.offset);
    int refused = 0, rc = transfer_once(url, &t, o, &refused);
    if (rc && refused) {
        /* The server ignores ranges: start over rather than append garbage. */
        fclose(t.f);
        if (!o->quiet)
            fprintf(stderr, "  %s; downloading again from the start\n", tb_last_error());
        if (open_part(&t, 1))
            return -1;
        refused = 0;
        rc = transfer_once(url, &t, o, &refused);
    }
    if (fflush(t.f) != 0 || fsync(fileno(t.f)) != 0) {
        if (!rc)
            rc = tb_fail("cannot write %s: %s", part, strerror(errno));
    }
    if (fclose(t.f) != 0 && !rc)
        rc = tb_fail("cannot write %s: %s", part, strerror(errno));
    if (t.too_big)
        unlink(part); /* nothing in it is worth resuming */
    if (rc)
        return -1;
    if (rename(part, dest) != 0)
        return tb_fail("cannot rename %s to %s: %s", part, dest, strerror(errno));
    return 0;
}
