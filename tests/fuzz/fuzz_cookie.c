/* libFuzzer target: Cookie header parsing (untrusted browser input). */
#include "auth/cookies.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[64];
    const char *names[] = {AUTH_COOKIE_ACCESS, AUTH_COOKIE_REFRESH, AUTH_COOKIE_CSRF, "x"};
    for (size_t i = 0; i < 4; i++) {
        long n = auth_cookie_get((const char *)data, size, names[i], out, sizeof(out));
        if (n >= (long)sizeof(out) || (n >= 0 && out[n] != '\0'))
            abort(); /* a value always fits and is terminated */
        if (n >= 0 && memchr(out, ';', (size_t)n) != NULL)
            abort(); /* a value never runs into the next pair */
    }
    return 0;
}
