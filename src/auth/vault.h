/*
 * The vault: encryption at rest for the few secrets the server must be able to read back
 * (TOTP seeds, token-signing keys), and the root of keys derived from it (the CSRF key). The key
 * lives in a file beside the database (auth.secrets_key_file, default DATA/secrets.key, mode 0600),
 * never in it, so a copied database or backup alone reveals nothing. XChaCha20-Poly1305 (libsodium)
 * with the owning row's id as associated data: a sealed value moved to another row does not open.
 */
#ifndef CAIRN_AUTH_VAULT_H
#define CAIRN_AUTH_VAULT_H

#include "base/common.h"

#include <stddef.h>
#include <stdint.h>

/** Sealed text: "v1:" + hex(nonce, ciphertext, tag). */
#define AUTH_VAULT_PREFIX "v1:"
#define AUTH_VAULT_LEN(n) (3 + 2 * (24 + (n) + 16) + 1)

/** Loads the key from path, creating it (0600, exclusively) when the file does not exist. */
int auth_vault_open(const char *path, cn_err_t *err);
/** 1 when the last auth_vault_open created the key file (it did not exist before). */
int auth_vault_created(void);
void auth_vault_close(void);

/**
 * Derives an n-byte subkey (16..64) for one purpose from the vault key: BLAKE2b through
 * libsodium's crypto_kdf, context ctx (8 characters) and id. Nothing derived can be
 * computed from the database alone. 0, or -1 when no vault is open.
 */
int auth_vault_derive(uint64_t id, const char ctx[8], uint8_t *out, size_t n);

/** Seals plain (n bytes) for the row ad into out (AUTH_VAULT_LEN(n) bytes). 0 or -1. */
int auth_vault_seal(const uint8_t *plain, size_t n, const char *ad, char *out, size_t cap);

/** Opens sealed text for the row ad into plain (exactly n bytes). 0, or -1 when it was
 * not sealed by this key for this row (tampered, moved, wrong key). */
int auth_vault_unseal(const char *sealed, size_t len, const char *ad, uint8_t *plain, size_t n);

#endif
