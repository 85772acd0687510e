/*
 * text.c - the growing text buffer that answers and the metrics are written
 * into, and the exact number formatting infer answers use.
 *
 * A real is written as Jansson 2.14 writes one, byte for byte: printf's
 * "%.17g" (17 significant digits, the exact binary value rounded half to
 * even), ".0" added when that leaves no '.' or 'e', and the exponent
 * without '+' or leading zeros.  glibc's printf reaches those 17 digits
 * through multi-precision arithmetic that cost more than the rest of a
 * batch answer; here they come from one 128-bit multiplication or
 * division.  Values whose scaling would not fit in 128 bits (below 1e-16
 * or above 2^127 in magnitude) are left to Jansson itself.
 */
#include "server_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIGITS 17 /* significant digits, as "%.17g" */

typedef unsigned __int128 u128;

/* ---- the buffer --------------------------------------------------------- */

/* Make room for more bytes and a terminating zero.  Returns 0, or -1 with
 * the buffer marked failed when memory ran out. */
int text_reserve(struct text *t, size_t more)
{
    size_t cap = t->cap ? t->cap : 256;
    char *s;

    if (t->failed)
        return -1;
    if (t->len + more < t->cap)
        return 0;
    while (cap <= t->len + more)
        cap *= 2;
    s = realloc(t->s, cap);
    if (!s) {
        t->failed = 1;
        return -1;
    }
    t->s = s;
    t->cap = cap;
    return 0;
}

/* Append n bytes of s. */
void text_put(struct text *t, const char *s, size_t n)
{
    if (text_reserve(t, n) != 0)
        return;
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

/* Append a string. */
void text_str(struct text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

/* Append printf-formatted text. */
void text_printf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (text_reserve(t, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* Append a whole number. */
void text_size(struct text *t, size_t n)
{
    char buf[24];
    size_t i = sizeof(buf);

    do {
        buf[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    text_put(t, buf + i, sizeof(buf) - i);
}

/* Append v as Jansson writes it, compact (JSON_ENCODE_ANY: any value). */
void text_json(struct text *t, const json_t *v)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n;

    if (text_reserve(t, 64) != 0)
        return;
    n = json_dumpb(v, t->s + t->len, t->cap - t->len - 1, flags);
    if (n == 0) {
        t->failed = 1;
        return;
    }
    if (n >= t->cap - t->len) {
        if (text_reserve(t, n) != 0)
            return;
        json_dumpb(v, t->s + t->len, n, flags);
    }
    t->len += n;
    t->s[t->len] = '\0';
}

/* Append a real number (see the top of the file); a value that is not
 * finite has no JSON form and marks the buffer failed, as Jansson refuses
 * to make one. */
void text_real(struct text *t, double v)
{
    char buf[TEXT_REAL_MAX];
    size_t n = text_format_real(v, buf);

    if (n == 0)
        t->failed = 1;
    else
        text_put(t, buf, n);
}

/* The finished text, owned by the caller (free), with its length in *len
 * when len is not NULL; NULL when memory ran out at any step (the buffer
 * is then freed). */
char *text_take(struct text *t, size_t *len)
{
    char *s = t->failed ? NULL : t->s;

    if (!s)
        free(t->s);
    else if (len)
        *len = t->len;
    *t = (struct text){0};
    return s;
}

/* ---- exact 17-digit reals ----------------------------------------------- */

/* 10^k for 0 <= k <= 38. */
static u128 pow10_128(int k)
{
    static const uint64_t p19 = 10000000000000000000u;
    u128 p = 1;

    if (k >= 19) {
        p = p19;
        k -= 19;
    }
    while (k-- > 0)
        p *= 10;
    return p;
}

/* The 17 significant digits of m * 2^e (m < 2^53) times 10^k, rounded half
 * to even, into *q.  Returns 0, or -1 when the scaling does not fit in 128
 * bits. */
static int scale(uint64_t m, int e, int k, uint64_t *q)
{
    u128 n, rem, half;
    int shift;

    if (k >= 0) {
        /* m * 5^k * 2^(e + k): 5^32 < 2^75 keeps the product in range. */
        if (k > 32)
            return -1;
        n = (u128)m * (pow10_128(k) >> k);
        shift = -(e + k);
        if (shift <= 0) {
            *q = (uint64_t)(n << -shift); /* exact: no fraction */
            return 0;
        }
        if (shift >= 127)
            return -1;
        *q = (uint64_t)(n >> shift);
        rem = n & (((u128)1 << shift) - 1);
        half = (u128)1 << (shift - 1);
    } else {
        /* A whole number of 18 or more digits: m * 2^e / 10^-k. */
        u128 p;

        if (e > 74 || -k > 38)
            return -1;
        p = pow10_128(-k);
        n = (u128)m << e;
        *q = (uint64_t)(n / p);
        rem = n % p;
        half = p / 2; /* p is even: exactly half */
    }
    if (rem > half || (rem == half && (*q & 1)))
        (*q)++;
    return 0;
}

/* |v| = m * 2^e with m < 2^53 and decimal exponent *d, rounded to 17
 * digits in *q (10^16 <= *q < 10^17).  Returns 0, or -1 when the value
 * is out of the fast range. */
static int digits17(double a, uint64_t *q, int *d)
{
    static const uint64_t lo = 10000000000000000u, hi = 100000000000000000u;
    uint64_t bits, m;
    int biased, e;

    memcpy(&bits, &a, sizeof(bits));
    biased = (int)((bits >> 52) & 0x7ff);
    if (biased == 0) /* subnormal: far below the fast range */
        return -1;
    m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    e = biased - 1075;

    /* log10(2) * (e + 52) is the exponent of 2^(e+52) <= a: d is it, or
     * one more. */
    *d = (int)floor((e + 52) * 0.30102999566398119521);
    if (scale(m, e, DIGITS - 1 - *d, q) != 0)
        return -1;
    if (*q >= hi) {
        (*d)++;
        if (scale(m, e, DIGITS - 1 - *d, q) != 0)
            return -1;
    }
    if (*q == hi) { /* 99...9.5 rounded up to a new digit */
        *q = lo;
        (*d)++;
    }
    return 0;
}

/* Write q's digits (17 of them) in %g form for decimal exponent d. */
static size_t layout(char *out, uint64_t q, int d)
{
    char dig[DIGITS];
    size_t n = 0, len = DIGITS;

    for (int i = DIGITS - 1; i >= 0; i--) {
        dig[i] = (char)('0' + q % 10);
        q /= 10;
    }
    while (len > 1 && dig[len - 1] == '0') /* %g drops trailing zeros */
        len--;

    if (d < -4 || d >= DIGITS) { /* d.ddde[-]x */
        int x = d < 0 ? -d : d;
        char exp[4];
        size_t k = sizeof(exp);

        out[n++] = dig[0];
        if (len > 1)
            out[n++] = '.';
        memcpy(out + n, dig + 1, len - 1);
        n += len - 1;
        out[n++] = 'e';
        if (d < 0)
            out[n++] = '-';
        do {
            exp[--k] = (char)('0' + x % 10);
            x /= 10;
        } while (x > 0);
        memcpy(out + n, exp + k, sizeof(exp) - k);
        return n + sizeof(exp) - k;
    }
    if (d < 0) { /* 0.000ddd */
        out[n++] = '0';
        out[n++] = '.';
        for (int i = -1; i > d; i--)
            out[n++] = '0';
        memcpy(out + n, dig, len);
        return n + len;
    }
    memcpy(out, dig, (size_t)d + 1); /* the whole part */
    n = (size_t)d + 1;
    out[n++] = '.';
    if (len <= (size_t)d + 1) { /* Jansson's ".0" on a whole number */
        out[n++] = '0';
        return n;
    }
    memcpy(out + n, dig + d + 1, len - (size_t)d - 1);
    return n + len - (size_t)d - 1;
}

/* Write v into out (TEXT_REAL_MAX bytes, not terminated) as Jansson 2.14
 * writes a real.  Returns the length, or 0 when v is not finite. */
size_t text_format_real(double v, char *out)
{
    uint64_t q;
    int d;
    size_t neg = signbit(v) ? 1 : 0;
    json_t *j;
    size_t n;

    if (!isfinite(v))
        return 0;
    out[0] = '-';
    if (v == 0) { /* "%.17g" writes "0" or "-0"; Jansson adds ".0" */
        memcpy(out + neg, "0.0", 3);
        return neg + 3;
    }
    if (digits17(fabs(v), &q, &d) == 0)
        return neg + layout(out + neg, q, d);

    /* Out of the fast range: Jansson's own rendering. */
    j = json_real(v);
    n = j ? json_dumpb(j, out, TEXT_REAL_MAX, JSON_ENCODE_ANY) : 0;
    json_decref(j);
    return n <= TEXT_REAL_MAX ? n : 0;
}
