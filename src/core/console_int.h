/*
 * The console's files as the build embeds them: scripts/embed-console.mjs writes the table
 * (build/generated/console_files.c) from the Vite build, and console.c serves it. Nothing
 * else reads it.
 */
#ifndef CAIRN_CORE_CONSOLE_INT_H
#define CAIRN_CORE_CONSOLE_INT_H

#include <stddef.h>

/** One built file. Everything points into static data of the generated file. */
typedef struct st_cn_console_file_t {
    const char *path;         /* relative to /console/: "index.html", "assets/index-B2x9.js" */
    const char *content_type; /* from the extension, with a charset for text */
    const unsigned char *raw;
    size_t raw_len;
    const unsigned char *gzip; /* compressed at build time (level 9); NULL: not smaller */
    size_t gzip_len;
    const char *etag;      /* strong validator of raw, quotes included */
    const char *gzip_etag; /* of the gzip copy: another representation, another tag */
    unsigned immutable;    /* under assets/: the name carries a hash of the content */
} cn_console_file_t;

/** Sorted by path (byte order), for a binary search. */
extern const cn_console_file_t cn_console_files[];
extern const size_t cn_console_n_files;

#endif
