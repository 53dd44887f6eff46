/*
 * GeoIP lookups (see geoip.h). Addresses are parsed with inet_pton and looked up with
 * MMDB_lookup_sockaddr rather than MMDB_lookup_string: the latter goes through
 * getaddrinfo(AI_NUMERICHOST), which never touches DNS but still accepts inet_aton's
 * legacy forms ("81.2.69" is 81.2.0.69, "0x51.2.69.1" is 81.2.69.1) and resolves
 * interface names in zone suffixes. Nothing here writes to the database after open.
 */
#include "lib/geoip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct st_cn_geoip_t {
    MMDB_s mmdb; /* owned; the mapping is read-only between open and close */
};

/* Lookup paths in the GeoIP2/GeoLite2 City layout. */
static const char *const COUNTRY_ISO[] = {"country", "iso_code", NULL};
static const char *const COUNTRY_NAME[] = {"country", "names", "en", NULL};
static const char *const CITY_NAME[] = {"city", "names", "en", NULL};
static const char *const LATITUDE[] = {"location", "latitude", NULL};
static const char *const LONGITUDE[] = {"location", "longitude", NULL};

int cn_geoip_open(const char *path, cn_geoip_t **out, char *errbuf, size_t errbuf_size)
{
    *out = NULL;
    cn_geoip_t *db = calloc(1, sizeof(*db));
    if (db == NULL) {
        snprintf(errbuf, errbuf_size, "%s: out of memory", path);
        return -1;
    }
    int status = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
    if (status != MMDB_SUCCESS) {
        const char *why = status == MMDB_IO_ERROR ? strerror(errno) : MMDB_strerror(status);
        snprintf(errbuf, errbuf_size, "%s: %s", path, why);
        free(db);
        return -1;
    }
    *out = db;
    return 0;
}

void cn_geoip_close(cn_geoip_t *db)
{
    if (db == NULL)
        return;
    MMDB_close(&db->mmdb);
    free(db);
}

static int parse_ip(const char *ip, struct sockaddr_storage *addr)
{
    memset(addr, 0, sizeof(*addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (ip == NULL)
        return -1;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return 0;
    }
    return -1;
}

/* The value at path: 1 when present with one of the wanted types, 0 when absent or of
 * another shape (a database of a different layout), -1 when the data is corrupt. */
static int get_value(MMDB_entry_s entry, const char *const *path, uint32_t type_a, uint32_t type_b,
                     MMDB_entry_data_s *value)
{
    int status = MMDB_aget_value(&entry, value, path);
    if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
        return 0;
    if (status != MMDB_SUCCESS)
        return -1;
    return value->has_data && (value->type == type_a || value->type == type_b);
}

/* MMDB strings are not NUL-terminated; cut long ones before a UTF-8 continuation byte. */
static int copy_string(MMDB_entry_s entry, const char *const *path, char *buf, size_t cap)
{
    MMDB_entry_data_s value;
    int found =
        get_value(entry, path, MMDB_DATA_TYPE_UTF8_STRING, MMDB_DATA_TYPE_UTF8_STRING, &value);
    if (found <= 0)
        return found;
    size_t n = value.data_size;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)value.utf8_string[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(buf, value.utf8_string, n);
    buf[n] = '\0';
    return 1;
}

static int get_double(MMDB_entry_s entry, const char *const *path, double *out)
{
    MMDB_entry_data_s value;
    int found = get_value(entry, path, MMDB_DATA_TYPE_DOUBLE, MMDB_DATA_TYPE_FLOAT, &value);
    if (found > 0)
        *out = value.type == MMDB_DATA_TYPE_DOUBLE ? value.double_value : value.float_value;
    return found;
}

static int fill(MMDB_entry_s entry, cn_geo_t *out)
{
    double lat = 0, lon = 0;
    int rc_iso = copy_string(entry, COUNTRY_ISO, out->country_code, sizeof(out->country_code));
    int rc_country = copy_string(entry, COUNTRY_NAME, out->country_name, CN_GEO_NAME_MAX);
    int rc_city = copy_string(entry, CITY_NAME, out->city, CN_GEO_NAME_MAX);
    int rc_lat = get_double(entry, LATITUDE, &lat);
    int rc_lon = get_double(entry, LONGITUDE, &lon);
    if (rc_iso < 0 || rc_country < 0 || rc_city < 0 || rc_lat < 0 || rc_lon < 0)
        return CN_GEO_DB_ERROR;
    if (rc_lat > 0 && rc_lon > 0) {
        out->has_location = 1;
        out->latitude = lat;
        out->longitude = lon;
    }
    return CN_GEO_FOUND;
}

int cn_geoip_lookup(const cn_geoip_t *db, const char *ip, cn_geo_t *out)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_storage addr;
    if (parse_ip(ip, &addr) != 0)
        return CN_GEO_INVALID_IP;
    int mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s found =
        MMDB_lookup_sockaddr(&db->mmdb, (const struct sockaddr *)&addr, &mmdb_error);
    if (mmdb_error == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
        return CN_GEO_NOT_FOUND; /* an IPv4-only database knows no IPv6 address */
    if (mmdb_error != MMDB_SUCCESS)
        return CN_GEO_DB_ERROR;
    if (!found.found_entry)
        return CN_GEO_NOT_FOUND;
    int rc = fill(found.entry, out);
    if (rc != CN_GEO_FOUND)
        memset(out, 0, sizeof(*out));
    return rc;
}
