/* Encryption at rest for readable secrets (see vault.h). */
#include "auth/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

static unsigned char *key; /* sodium_malloc: guarded, locked, wiped on free */
static int created;        /* the last open made a new key file */

static int read_key(int fd, unsigned char *k)
{
    size_t got = 0;
    while (got < KEY_BYTES) {
        ssize_t n = read(fd, k + got, KEY_BYTES - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    unsigned char extra;
    return read(fd, &extra, 1) == 0 ? 0 : -1;
}

static int write_key(int fd, const unsigned char *k)
{
    size_t put = 0;
    while (put < KEY_BYTES) {
        ssize_t n = write(fd, k + put, KEY_BYTES - put);
        if (n <= 0)
            return -1;
        put += (size_t)n;
    }
    return fsync(fd);
}

int auth_vault_open(const char *path, cn_err_t *err)
{
    auth_vault_close();
    created = 0;
    if (sodium_init() < 0)
        return cn_err_set(err, CN_ERR, "libsodium cannot start");
    key = sodium_malloc(KEY_BYTES);
    if (key == NULL)
        return cn_err_set(err, CN_ERR, "cannot allocate the secrets key");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        int bad = fstat(fd, &st) != 0 || (st.st_mode & 077) != 0;
        int rc = bad ? -1 : read_key(fd, key);
        close(fd);
        if (rc == 0)
            return 0;
        auth_vault_close();
        return cn_err_set(err, CN_ERR,
                          bad ? "%s: the secrets key must be readable by its owner only (chmod 600)"
                              : "%s: not a secrets key (it must hold exactly 32 bytes)",
                          path);
    }
    if (errno != ENOENT) {
        auth_vault_close();
        return cn_err_set(err, CN_ERR, "cannot open the secrets key %s: %s", path, strerror(errno));
    }
    randombytes_buf(key, KEY_BYTES);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write_key(fd, key) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        auth_vault_close();
        return cn_err_set(err, CN_ERR, "cannot create the secrets key %s: %s", path, strerror(e));
    }
    close(fd);
    created = 1;
    return 0;
}

int auth_vault_created(void)
{
    return created;
}

int auth_vault_derive(uint64_t id, const char ctx[8], uint8_t *out, size_t n)
{
    if (key == NULL || n < crypto_kdf_BYTES_MIN || n > crypto_kdf_BYTES_MAX)
        return -1;
    return crypto_kdf_derive_from_key(out, n, id, ctx, key) == 0 ? 0 : -1;
}

void auth_vault_close(void)
{
    sodium_free(key);
    key = NULL;
}

int auth_vault_seal(const uint8_t *plain, size_t n, const char *ad, char *out, size_t cap)
{
    unsigned char box[NONCE_BYTES + 64 + TAG_BYTES];
    if (key == NULL || n > 64 || cap < AUTH_VAULT_LEN(n))
        return -1;
    randombytes_buf(box, NONCE_BYTES);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        box + NONCE_BYTES, &clen, plain, n, (const unsigned char *)ad, strlen(ad), NULL, box, key);
    memcpy(out, AUTH_VAULT_PREFIX, 3);
    sodium_bin2hex(out + 3, cap - 3, box, NONCE_BYTES + (size_t)clen);
    return 0;
}

int auth_vault_unseal(const char *sealed, size_t len, const char *ad, uint8_t *plain, size_t n)
{
    unsigned char box[NONCE_BYTES + 64 + TAG_BYTES];
    size_t blen;
    if (key == NULL || n > 64 || len != AUTH_VAULT_LEN(n) - 1 ||
        memcmp(sealed, AUTH_VAULT_PREFIX, 3) != 0 ||
        sodium_hex2bin(box, sizeof(box), sealed + 3, len - 3, NULL, &blen, NULL) != 0 ||
        blen != NONCE_BYTES + n + TAG_BYTES)
        return -1;
    unsigned long long plen;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, box + NONCE_BYTES,
                                                      n + TAG_BYTES, (const unsigned char *)ad,
                                                      strlen(ad), box, key) == 0 &&
                   plen == n
               ? 0
               : -1;
}
