/*
 * A test's state directory: made with mkdtemp, removed with everything in it. A file including
 * this defines _GNU_SOURCE before its first include (nftw's FTW_DEPTH and FTW_PHYS).
 */
#ifndef RILL_TESTS_TEMP_DIR_H
#define RILL_TESTS_TEMP_DIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline int temp_dir_entry_remove(const char *path, const struct stat *sb, int flag,
                                        struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Makes dir (room for 64 bytes) a new directory /tmp/rill-<name>-XXXXXX; 0 or -1. */
static inline int temp_dir_make(char dir[64], const char *name)
{
    snprintf(dir, 64, "/tmp/rill-%s-XXXXXX", name);
    return mkdtemp(dir) ? 0 : -1;
}

/* Removes dir and everything in it; 0 or -1. */
static inline int temp_dir_remove(const char *dir)
{
    return nftw(dir, temp_dir_entry_remove, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
