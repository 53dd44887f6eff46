/*
 * libFuzzer target: the two base64url codecs of lib/formats.h (libsodium's constant-time
 * one for secrets, the table one for JWT segments and cursors) on untrusted text. They
 * must accept exactly the same texts and decode them to the same bytes, and what they
 * decode must encode back to the very same text (no two texts decode alike).
 */
#include "lib/formats.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    const char *text = (const char *)data;
    uint8_t *a = malloc(size * 3 / 4 + 1), *b = malloc(size * 3 / 4 + 1);
    char *back = malloc(size + 2);
    long na = cn_base64url_decode(text, size, a), nb = cn_base64url_decode_fast(text, size, b);
    if (na != nb || (na > 0 && memcmp(a, b, (size_t)na) != 0))
        abort();
    if (na >= 0) {
        size_t n = cn_base64url_encode(a, (size_t)na, back);
        if (n != size || memcmp(back, text, size) != 0)
            abort();
        n = cn_base64url_encode_fast(a, (size_t)na, back);
        if (n != size || memcmp(back, text, size) != 0)
            abort();
    }
    free(a);
    free(b);
    free(back);
    return 0;
}
