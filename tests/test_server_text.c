/*
 * test_server_text.c - the server's answer text: reals written by
 * text_format_real must be byte for byte what Jansson writes for the same
 * double, and must read back as that double, over every exponent, the
 * edges of the fast range, powers of ten, ties and the values a float32
 * network puts out; and the text buffer's appends and failures.
 */
#include "server_int.h"
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15u;

/* xorshift64*: the same numbers on every run. */
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

static double from_bits(uint64_t b)
{
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

static long n_checked, n_bad;

/* One value: the same text as Jansson's, and an exact round trip.  Only
 * the first few failures are printed. */
static void check_one(double v)
{
    char ours[TEXT_REAL_MAX + 1], *theirs;
    json_t *j = json_real(v);
    size_t n = text_format_real(v, ours);
    int ok;

    ours[n] = '\0';
    theirs = json_dumps(j, JSON_ENCODE_ANY);
    ok = n > 0 && theirs && strcmp(ours, theirs) == 0 &&
         strtod(ours, NULL) == v && signbit(strtod(ours, NULL)) == signbit(v);
    n_checked++;
    if (!ok && n_bad++ < 10)
        CHECK(0, "%a: ours '%s', Jansson's '%s'", v, ours,
              theirs ? theirs : "(none)");
    free(theirs);
    json_decref(j);
}

static void check_both_signs(double v)
{
    check_one(v);
    check_one(-v);
}

static void test_edges(void)
{
    static const double fixed[] = {
        0.0,     1.0,     0.5,     0.1,     1e-4,      9.99999e-5, 1e-5,
        1e16,    1e17,    1e-16,   1e-17,   123456789, 2.5,        0.3,
        DBL_MAX, DBL_MIN, 5e-324,  1e300,   1e-300,    1e22,       1e23,
        1e38,    1e39,    0x1p127, 0x1p126, 0x1p-60,   0x1p53,     0x1p54,
    };

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_both_signs(fixed[i]);

    /* Powers of ten and their neighbours: where the decimal exponent
     * changes. */
    for (int k = -30; k <= 45; k++) {
        double p = pow(10, k);

        check_both_signs(p);
        check_both_signs(nextafter(p, 0));
        check_both_signs(nextafter(p, INFINITY));
    }
    /* Powers of two: the binary exponent's steps, and the 2^127 edge. */
    for (int k = -80; k <= 140; k++) {
        check_both_signs(ldexp(1, k));
        check_both_signs(nextafter(ldexp(1, k), 0));
    }
    /* Whole numbers past 2^53, where the 17th digit is a tie or not. */
    for (uint64_t w = 1; w < 4000; w++) {
        check_one((double)(100000000000000000u + 10 * w + 5));
        check_one((double)((1ull << 56) + 16 * w));
        check_one((double)w * 1e17 + 5e16);
    }
}

static void test_random(void)
{
    /* Every exponent: random bit patterns that are finite. */
    for (int i = 0; i < 200000; i++) {
        double v = from_bits(next());

        if (isfinite(v))
            check_one(v);
    }
    /* The fast range, spread evenly over its decimal exponents. */
    for (int i = 0; i < 100000; i++) {
        double mant = 1 + (double)(next() >> 11) * 0x1p-53 * 9;

        check_both_signs(mant * pow(10, (int)(next() % 56) - 17));
    }
    /* What a float32 network gives after its output scaling. */
    for (int i = 0; i < 100000; i++) {
        float f = (float)((double)(next() >> 11) * 0x1p-53 * 2 - 1);

        check_one(0.37 + 1.25 * (double)f);
        check_one((double)f);
    }
}

static void test_not_finite(void)
{
    char out[TEXT_REAL_MAX];
    struct text t = {0};

    CHECK(text_format_real(NAN, out) == 0, "NaN has no JSON form");
    CHECK(text_format_real(-INFINITY, out) == 0, "-inf has no JSON form");
    text_str(&t, "[");
    text_real(&t, INFINITY);
    text_str(&t, "]");
    CHECK(t.failed && text_take(&t, NULL) == NULL,
          "a non-finite real fails the text");
}

static void test_buffer(void)
{
    static const char head[] = "{\"id\":\"a \\\"quoted\\\" \xc3\xa9 / "
                               "line\\n\",\"n\":0,18446744073709551615,";
    struct text t = {0};
    json_t *s = json_string("a \"quoted\" \xc3\xa9 / line\n");
    size_t len = 0;
    char *out;

    text_str(&t, "{\"id\":");
    text_json(&t, s);
    text_put(&t, ",\"n\":", 5);
    text_size(&t, 0);
    text_put(&t, ",", 1);
    text_size(&t, 18446744073709551615u);
    for (int i = 0; i < 2000; i++) /* past several doublings */
        text_printf(&t, ",\"k%d\":%d", i, i);
    text_str(&t, "}");
    out = text_take(&t, &len);
    if (!out) {
        CHECK(0, "the text was made");
        json_decref(s);
        return;
    }

    CHECK(len == strlen(out), "the text and its length agree");
    CHECK(strncmp(out, head, strlen(head)) == 0,
          "strings are written by Jansson, numbers in full: %.70s", out);
    CHECK(strcmp(out + len - 13, "\"k1999\":1999}") == 0,
          "the last append is kept: %s", out + len - 13);
    CHECK(t.s == NULL && t.len == 0, "taking the text empties the buffer");
    free(out);
    json_decref(s);
}

int main(void)
{
    test_edges();
    test_random();
    CHECK(n_bad == 0,
          "%ld of %ld reals differ from Jansson's or do not "
          "read back",
          n_bad, n_checked);
    test_not_finite();
    test_buffer();
    return tu_finish("server_text");
}
