/*
 * IP geolocation from a MaxMind DB file (GeoLite2-City or GeoIP2-City layout) through
 * libmaxminddb. A cn_geoip_t is read-only once open (the file is mmap'ed), so any number
 * of threads may look up in one database at once; open and close are not concurrent with
 * lookups. Only numeric addresses are accepted: a lookup never resolves a host name.
 */
#ifndef CAIRN_LIB_GEOIP_H
#define CAIRN_LIB_GEOIP_H

#include <stddef.h>

/** Room for a place name in cn_geo_t, NUL included; longer names are cut at a character. */
#define CN_GEO_NAME_MAX 96

typedef struct st_cn_geoip_t cn_geoip_t;

/** What a lookup found. Fields the database has no value for are "" (or has_location 0). */
typedef struct st_cn_geo_t {
    char country_code[3];               /* ISO 3166-1 alpha-2, "GB" */
    char country_name[CN_GEO_NAME_MAX]; /* English, UTF-8 */
    char city[CN_GEO_NAME_MAX];         /* English, UTF-8 */
    int has_location;
    double latitude, longitude;
} cn_geo_t;

/** Results of cn_geoip_lookup: negative values are errors. */
enum {
    CN_GEO_FOUND = 1,
    CN_GEO_NOT_FOUND = 0,   /* a valid address the database has no entry for */
    CN_GEO_INVALID_IP = -1, /* not a textual IPv4 or IPv6 address */
    CN_GEO_DB_ERROR = -2,   /* corrupt database */
};

/**
 * Opens the database at path. Returns 0 with *out set (free with cn_geoip_close), or -1
 * with a message for operators in errbuf (errbuf_size bytes, always terminated).
 */
int cn_geoip_open(const char *path, cn_geoip_t **out, char *errbuf, size_t errbuf_size);

/** Closes db (NULL is fine). No lookup may be running on it. */
void cn_geoip_close(cn_geoip_t *db);

/**
 * Looks up ip, in the strict forms inet_pton(3) accepts ("81.2.69.1", "2001:db8::1",
 * "::ffff:81.2.69.1"); legacy forms such as "1", "81.2.69" or "0x51.2.69.1", zone
 * suffixes ("fe80::1%eth0") and host names are CN_GEO_INVALID_IP. Always clears *out,
 * then fills what was found. Returns one of the CN_GEO_* values.
 */
int cn_geoip_lookup(const cn_geoip_t *db, const char *ip, cn_geo_t *out);

#endif
