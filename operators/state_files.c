/*
 * The files of a state directory, shared by tasks' stores (stores.c), global stores (global.c)
 * and the engine (the app's state.dir): making directories, the directory's lock, and the
 * checkpoint file of changelog offsets (Kafka Streams' .checkpoint format).
 */
#include "operators_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- mkdir -p ---- */

int rill__make_dirs(const char *path)
{
    char buf[1024];
    if (!path || snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return RILL_EINVAL;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST)
                return RILL_EIO;
            *p = '/';
        }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return RILL_EIO;
    return 0;
}

int rill__dir_lock(const char *dir, int *fd, char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/.lock", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return RILL_EIO;
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    return errno == EWOULDBLOCK ? RILL_EBUSY : RILL_EIO;
}

/* ---- checkpoint file ---- */

int rill__checkpoint_read(const char *path,
                          void (*entry)(void *ud, const char *topic, int32_t partition,
                                        int64_t offset),
                          void *ud, char *why, size_t why_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, why_size, "cannot read %.400s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    int version = -1;
    long count = -1;
    int rc = 1, lineno = 0;
    if (!fgets(line, sizeof line, f) || sscanf(line, "%d", &version) != 1 || version != 0) {
        snprintf(why, why_size, "%.400s line 1: expected version 0", path);
        rc = -1;
    } else if (!fgets(line, sizeof line, f) || sscanf(line, "%ld", &count) != 1 || count < 0) {
        snprintf(why, why_size, "%.400s line 2: expected the number of entries", path);
        rc = -1;
    }
    lineno = 2;
    for (long k = 0; rc == 1 && k < count; k++) {
        char topic[300];
        int partition;
        long long offset;
        lineno++;
        if (!fgets(line, sizeof line, f) ||
            sscanf(line, "%299s %d %lld", topic, &partition, &offset) != 3 || offset < 0) {
            snprintf(why, why_size, "%.400s line %d: expected '<topic> <partition> <offset>'", path,
                     lineno);
            rc = -1;
            break;
        }
        entry(ud, topic, partition, offset);
    }
    if (rc == 1 && fgets(line, sizeof line, f)) {
        snprintf(why, why_size, "%.400s: more entries than the %ld its header counts", path, count);
        rc = -1;
    }
    fclose(f);
    return rc;
}

int rill__checkpoint_write(const char *path, int count, const rill_bytes_t *lines, char *why,
                           size_t why_size)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(why, why_size, "cannot write %.600s: %s", tmp, strerror(errno));
        return RILL_EIO;
    }
    fprintf(f, "0\n%d\n", count);
    bool ok = lines->len == 0 || fwrite(lines->data, 1, lines->len, f) == lines->len;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) {
        snprintf(why, why_size, "cannot write %.600s: %s", path, strerror(errno));
        return RILL_EIO;
    }
    return 0;
}
