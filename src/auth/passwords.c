/*
 * Passwords (see passwords.h). libsodium's crypto_pwhash_str produces a self-describing
 * "$argon2id$v=19$m=...,t=...,p=...$salt$hash" string and verifies it in constant time.
 * cracklib keeps static state, so its checks run under one mutex.
 */
#include "auth/passwords.h"
#include "lib/utf8.h"

#include <stddef.h> /* crack.h uses size_t without including it */
#include <crack.h>
#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OPS_LIMIT 2
#define MEM_LIMIT (19u * 1024 * 1024)

static char dummy_hash[AUTH_HASH_LEN];
static pthread_mutex_t crack_lock = PTHREAD_MUTEX_INITIALIZER;

/* The common-password list, lower-cased and sorted for bsearch. Read-only after init. */
static char **common;
static size_t n_common;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static int load_common(const char *path)
{
    if (common != NULL)
        return 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[256];
    size_t cap = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || strncmp(line, "#!", 2) == 0)
            continue;
        lower(line);
        if (n_common == cap) {
            cap = cap ? cap * 2 : 4096;
            char **grown = realloc(common, cap * sizeof(char *));
            if (grown == NULL)
                break;
            common = grown;
        }
        common[n_common] = strdup(line);
        if (common[n_common] != NULL)
            n_common++;
    }
    fclose(f);
    if (common != NULL) /* NULL when the list was empty; qsort must not get it */
        qsort(common, n_common, sizeof(char *), cmp_str);
    return n_common > 0 ? 0 : -1;
}

static int is_common(const char *password, size_t len)
{
    char buf[257];
    if (len >= sizeof(buf) || n_common == 0)
        return 0;
    memcpy(buf, password, len);
    buf[len] = '\0';
    lower(buf);
    const char *key = buf;
    if (bsearch(&key, common, n_common, sizeof(char *), cmp_str))
        return 1;
    /* "password1234!" is "password" with decoration */
    while (len > 0 && !isalpha((unsigned char)buf[len - 1]))
        buf[--len] = '\0';
    return len > 0 && bsearch(&key, common, n_common, sizeof(char *), cmp_str) != NULL;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

/* Made on first use, on a worker: hashing takes tens of ms and start-up must stay fast. */
static void make_dummy(void)
{
    char pw[32];
    randombytes_buf(pw, sizeof(pw));
    if (auth_password_hash(pw, sizeof(pw), dummy_hash) != 0)
        abort(); /* only out of memory gets here */
}

int auth_passwords_init(const char *list_path)
{
    return sodium_init() < 0 || load_common(list_path) != 0 ? -1 : 0;
}

int auth_password_hash(const char *password, size_t len, char out[AUTH_HASH_LEN])
{
    _Static_assert(AUTH_HASH_LEN == crypto_pwhash_STRBYTES, "hash buffer size");
    return crypto_pwhash_str_alg(out, password, len, OPS_LIMIT, MEM_LIMIT,
                                 crypto_pwhash_ALG_ARGON2ID13) == 0
               ? 0
               : -1;
}

int auth_password_verify(const char *hash, const char *password, size_t len)
{
    /* an unknown account spends the same time on the dummy hash, then fails */
    pthread_once(&dummy_once, make_dummy);
    const char *h = hash != NULL ? hash : dummy_hash;
    int ok = crypto_pwhash_str_verify(h, password, len) == 0;
    return hash != NULL && ok;
}

int auth_password_needs_rehash(const char *hash)
{
    return crypto_pwhash_str_needs_rehash(hash, OPS_LIMIT, MEM_LIMIT) != 0;
}

static int contains_ci(const char *hay, size_t hay_len, const char *needle, size_t n)
{
    if (n == 0 || n > hay_len)
        return 0;
    for (size_t i = 0; i + n <= hay_len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

const char *auth_password_policy(const char *password, size_t len, const char *email)
{
    size_t chars = cn_utf8_count(password, len);
    if (chars < 12)
        return "must be at least 12 characters";
    if (chars > 256)
        return "must be at most 256 characters";
    if (memchr(password, '\0', len) != NULL)
        return "must not contain NUL characters";
    if (email != NULL) {
        const char *at = strchr(email, '@');
        size_t local = at ? (size_t)(at - email) : strlen(email);
        if (contains_ci(password, len, email, strlen(email)) ||
            (local >= 4 && contains_ci(password, len, email, local)))
            return "must not contain the e-mail address";
    }
    if (is_common(password, len))
        return "is on the list of commonly used passwords";
    /* cracklib's reasons are static strings such as "it is based on a dictionary word" */
    static _Thread_local char reason[128];
    pthread_mutex_lock(&crack_lock);
    const char *weak = FascistCheck(password, GetDefaultCracklibDict());
    if (weak != NULL)
        snprintf(reason, sizeof(reason), "is too weak (%s)", weak);
    pthread_mutex_unlock(&crack_lock);
    return weak != NULL ? reason : NULL;
}
