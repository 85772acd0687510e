/*
 * util.c - the clock, the version and strict number parsing.
 */
#include "tb.h"
#include "tb_version.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
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

    if (!s || !*s)
        return TB_EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return TB_EINVAL;
    *out = v;
    return TB_OK;
}

int tb_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (!s || !*s)
        return TB_EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0' || errno == ERANGE || v < lo || v > hi)
        return TB_EINVAL;
    *out = v;
    return TB_OK;
}
