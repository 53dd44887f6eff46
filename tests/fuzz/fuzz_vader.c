/* libFuzzer target: VADER sentiment on arbitrary bytes (user text: any length, any encoding). */
#include "lib/vader.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static int in_range(double x, double lo, double hi)
{
    return isfinite(x) && x >= lo && x <= hi;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_vader_scores_t s;
    if (cn_vader_score((const char *)data, size, &s) != 0)
        abort();
    if (!in_range(s.neg, 0, 1) || !in_range(s.neu, 0, 1) || !in_range(s.pos, 0, 1) ||
        !in_range(s.compound, -1, 1))
        abort();
    double sum = s.neg + s.neu + s.pos;
    int wordless = sum == 0;
    if (wordless ? s.compound != 0 : fabs(sum - 1) > 0.0015 + 1e-9)
        abort(); /* rounding to 3 decimals leaves at most 3 x 0.0005 */

    /* the largest of three shares summing to about 1 is at least a third of it */
    double confidence = cn_vader_confidence(&s);
    if (wordless ? confidence != 0 : !in_range(confidence, (1 - 0.0015) / 3, 1))
        abort();
    (void)cn_vader_label(s.compound);
    return 0;
}
