/*
 * One server per data directory: the lock on DATA/cairn.lock. The process that may change
 * the database's schema (`cairn serve`, `cairn migrate`) holds it; the kernel drops it when
 * that process exits, however it exits, so a crash never leaves a stale lock behind.
 */
#ifndef CAIRN_CORE_INSTANCE_H
#define CAIRN_CORE_INSTANCE_H

#include "base/common.h"

/**
 * Takes the lock on data_dir/cairn.lock (created with the directory if missing) without
 * waiting and writes the caller's pid into the file. Returns an owned descriptor (>= 0) that
 * holds the lock until cn_instance_unlock; CN_EBUSY with a message naming the holder's pid
 * when another process holds it; CN_ERR when the file cannot be opened or locked.
 */
int cn_instance_lock(const char *data_dir, cn_err_t *err);

/** Releases a lock taken by cn_instance_lock (a negative fd is ignored). */
void cn_instance_unlock(int fd);

#endif
