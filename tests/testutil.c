/*
 * testutil.c - see testutil.h.
 */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int tu_checks;
int tu_failed;

static char tmpdir[4096];

void tu_check(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    tu_checks++;
    if (ok)
        return;
    tu_failed++;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int tu_near(double got, double want, double tol)
{
    return isfinite(got) && fabs(got - want) <= tol;
}

const char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");

    if (tmpdir[0])
        return tmpdir;
    snprintf(tmpdir, sizeof(tmpdir), "%s/tabula-test-XXXXXX",
             base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(2);
    }
    return tmpdir;
}

int tu_finish(const char *name)
{
    char cmd[4200];

    if (tmpdir[0] && tu_failed == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("%s: %d passed, %d failed\n", name, tu_checks - tu_failed,
           tu_failed);
    return tu_failed ? 1 : 0;
}
