/*
 * The data directory's lock (see instance.h). flock() belongs to the open file, not to a
 * path or a pid: it survives nothing but its descriptor, so a killed holder releases it at
 * once and no pid is ever guessed to be alive. The file itself is never removed: removing
 * it would let a second process lock a fresh file while the first still holds the old one.
 * The pid written into it is only for the message the next process prints.
 */
#include "core/instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The holder's pid as written in the file, or 0 if it has not written it yet. */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

static void write_pid(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        return; /* the lock holds without it; only the next process's message is poorer */
}

int cn_instance_lock(const char *data_dir, cn_err_t *err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/cairn.lock", data_dir) >= (int)sizeof(path))
        return cn_err_set(err, CN_ERR, "data directory path too long: %s", data_dir);
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
        return cn_err_set(err, CN_ERR, "cannot create %s: %s", data_dir, strerror(errno));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return cn_err_set(err, CN_ERR, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        write_pid(fd);
        return fd;
    }
    int e = errno;
    long pid = e == EWOULDBLOCK ? holder_pid(fd) : 0;
    close(fd);
    if (e != EWOULDBLOCK)
        return cn_err_set(err, CN_ERR, "cannot lock %s: %s", path, strerror(e));
    if (pid > 0)
        return cn_err_set(err, CN_EBUSY,
                          "the data directory %s is in use by another cairn process (pid %ld, "
                          "lock %s)",
                          data_dir, pid, path);
    return cn_err_set(err, CN_EBUSY,
                      "the data directory %s is in use by another cairn process (lock %s)",
                      data_dir, path);
}

void cn_instance_unlock(int fd)
{
    if (fd < 0)
        return;
    /* no pid of a process that is gone stays behind; close() drops the lock either way */
    int rc = ftruncate(fd, 0);
    (void)rc;
    close(fd);
}
