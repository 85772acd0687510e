/*
 * path.c - checks made before a file is written, so that a long run does
 * not end in a write that was never going to work, and so that an atomic
 * rename never replaces something that is not a regular file.
 */
#include "tb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tb_path_replaceable(const char *path, tb_error *err)
{
    struct stat st;

    if (!path || !*path)
        return tb_error_set(err, TB_EINVAL, "path",
                            "an output file name is required");
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return TB_OK;
        return tb_error_set(err, TB_EIO, path, "cannot inspect %s: %s", path,
                            strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return tb_error_set(err, TB_EINVAL, path,
                            "%s exists and is not a regular file (a folder, "
                            "link or device); expected a new file or a "
                            "regular file to replace",
                            path);
    return TB_OK;
}

/* The folder part of path ("." when it has none). */
static int folder_of(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t len;

    if (!slash)
        return snprintf(out, size, ".") < (int)size ? 0 : -1;
    len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= size)
        return -1;
    memcpy(out, path, len);
    out[len] = '\0';
    return 0;
}

int tb_path_writable(const char *path, tb_error *err)
{
    char dir[PATH_MAX], probe[PATH_MAX + 64];
    int rc, fd;

    rc = tb_path_replaceable(path, err);
    if (rc != 0)
        return rc;
    if (folder_of(path, dir, sizeof(dir)) != 0)
        return tb_error_set(err, TB_EINVAL, path, "the path is too long");

    /* Create and remove a file beside the target: the only test that
     * answers for read-only mounts, permissions and missing folders alike. */
    snprintf(probe, sizeof(probe), "%s/.tabula-probe.%ld", dir, (long)getpid());
    fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return tb_error_set(err, TB_EIO, path,
                            "cannot write into folder %s: %s", dir,
                            strerror(errno));
    close(fd);
    unlink(probe);
    return TB_OK;
}

int tb_path_same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* fsync a file or folder; 0 or the errno of what failed. */
static int sync_path(const char *path, int flags)
{
    int fd = open(path, O_RDONLY | flags);
    int rc = 0;

    if (fd < 0)
        return errno;
    if (fsync(fd) != 0)
        rc = errno;
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    return rc;
}

int tb_path_commit(const char *tmp, const char *path, tb_error *err)
{
    char dir[PATH_MAX];
    int e;

    if ((e = sync_path(tmp, 0)) != 0) {
        unlink(tmp);
        return tb_error_set(err, TB_EIO, tmp, "cannot fsync %s: %s", tmp,
                            strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return tb_error_set(err, TB_EIO, path, "cannot rename %s to %s: %s",
                            tmp, path, strerror(e));
    }

    /* The rename is durable only once its folder is synced.  Folders that
     * cannot be synced (EINVAL, ENOTSUP) are accepted; any other failure
     * removes the new file, so that failure leaves nothing behind. */
    if (folder_of(path, dir, sizeof(dir)) != 0)
        return TB_OK;
    e = sync_path(dir, O_DIRECTORY);
    if (e == 0 || e == EINVAL || e == ENOTSUP)
        return TB_OK;
    unlink(path);
    return tb_error_set(err, TB_EIO, path, "cannot fsync folder %s: %s", dir,
                        strerror(e));
}
