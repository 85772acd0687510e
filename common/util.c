/*
 * util.c - the clock, the version and strict number parsing.
 */
#include "tb.h"
#include "tb_version.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double tb_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *tb_version(void)
{
    return TB_VERSION;
}

int tb_parse_double(const char *s, double *out)
{
    char *end;
    double v;

    /* Plain decimal notation only: no blanks, hex, "inf" or "nan". */
    if (!s || !*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return TB_EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v))
        return TB_EINVAL;

    /* ERANGE is an overflow (refused) or an underflow to a tiny value,
     * which is still the number the user wrote, as near as a double can. */
    if (errno == ERANGE && fabs(v) > 1.0)
        return TB_EINVAL;
    *out = v;
    return TB_OK;
}

int tb_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (!s || !*s || strspn(s, "0123456789+-") != strlen(s))
        return TB_EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0' || errno == ERANGE || v < lo || v > hi)
        return TB_EINVAL;
    *out = v;
    return TB_OK;
}
