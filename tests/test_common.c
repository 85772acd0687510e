/*
 * test_common.c - the status table, the error record and number parsing.
 */
#include "tb.h"
#include "testutil.h"

#include <string.h>
#include <unistd.h>

static void test_status_table(void)
{
    CHECK(strcmp(tb_status_name(TB_EDOMAIN), "TB_EDOMAIN") == 0,
          "name of TB_EDOMAIN is %s", tb_status_name(TB_EDOMAIN));
    CHECK(tb_status_http(TB_EINVAL) == 400, "TB_EINVAL maps to 400");
    CHECK(tb_status_http(TB_NOT_FOUND) == 404, "TB_NOT_FOUND maps to 404");
    CHECK(tb_status_http(TB_EMETHOD) == 405, "TB_EMETHOD maps to 405");
    CHECK(tb_status_http(TB_ELIMIT) == 413, "TB_ELIMIT maps to 413");
    CHECK(tb_status_http(TB_EDOMAIN) == 422, "TB_EDOMAIN maps to 422");
    CHECK(tb_status_http(TB_ENOTAVAIL) == 422, "TB_ENOTAVAIL maps to 422");
    CHECK(strcmp(tb_status_name(12345), "TB_UNKNOWN") == 0,
          "an unknown code has a name");
}

static void test_first_error_wins(void)
{
    tb_error err;

    tb_error_clear(&err);
    CHECK(tb_error_set(&err, TB_EINVAL, "alpha", "alpha is %d", 3) == TB_EINVAL,
          "tb_error_set returns its code");
    tb_error_set(&err, TB_EIO, "file", "later error");
    CHECK(err.code == TB_EINVAL, "the first error is kept (%d)", err.code);
    CHECK(strcmp(err.where, "alpha") == 0, "where is kept: %s", err.where);
    CHECK(strcmp(err.text, "alpha is 3") == 0, "text is kept: %s", err.text);
    CHECK(tb_error_set(NULL, TB_EIO, "x", "y") == TB_EIO,
          "a NULL record is accepted");
}

static void test_parse(void)
{
    double d = 0;
    long l = 0;

    CHECK(tb_parse_double("0.25", &d) == 0 && d == 0.25, "parse 0.25");
    CHECK(tb_parse_double("0.25x", &d) == TB_EINVAL, "trailing junk refused");
    CHECK(tb_parse_double("nan", &d) == TB_EINVAL, "nan refused");
    CHECK(tb_parse_double("1e400", &d) == TB_EINVAL, "overflow refused");
    CHECK(tb_parse_double("", &d) == TB_EINVAL, "empty refused");
    CHECK(tb_parse_double("0x10", &d) == TB_EINVAL, "hex refused");
    CHECK(tb_parse_double(" 0.1", &d) == TB_EINVAL, "leading blank refused");
    CHECK(tb_parse_double("inf", &d) == TB_EINVAL, "inf refused");
    CHECK(tb_parse_double("1e-320", &d) == 0 && d > 0 && d < 1e-300,
          "a tiny number is accepted");
    CHECK(tb_parse_double("-2.5e-3", &d) == 0 && d == -2.5e-3, "parse -2.5e-3");
    CHECK(tb_parse_long("17", 1, 100, &l) == 0 && l == 17, "parse 17");
    CHECK(tb_parse_long("0", 1, 100, &l) == TB_EINVAL, "below range refused");
    CHECK(tb_parse_long("3.5", 1, 100, &l) == TB_EINVAL, "fraction refused");
    CHECK(tb_parse_long(" 7", 1, 100, &l) == TB_EINVAL, "blank refused");
}

static void test_paths(void)
{
    char file[4200], link[4200], missing[4200];
    tb_error err;
    FILE *f;

    snprintf(file, sizeof(file), "%s/a.h5", tu_tmpdir());
    snprintf(link, sizeof(link), "%s/link.h5", tu_tmpdir());
    snprintf(missing, sizeof(missing), "%s/no/such/dir/a.h5", tu_tmpdir());

    tb_error_clear(&err);
    CHECK(tb_path_writable(file, &err) == 0, "a new file: %s", err.text);
    f = fopen(file, "w");
    CHECK(f != NULL, "create %s", file);
    if (f)
        fclose(f);
    CHECK(tb_path_replaceable(file, NULL) == 0, "a regular file is replaced");
    CHECK(symlink(file, link) == 0, "symlink");
    CHECK(tb_path_replaceable(link, NULL) == TB_EINVAL, "a link is refused");
    CHECK(tb_path_replaceable("/dev/null", NULL) == TB_EINVAL,
          "a device is refused");
    CHECK(tb_path_replaceable(tu_tmpdir(), NULL) == TB_EINVAL,
          "a folder is refused");
    CHECK(tb_path_replaceable("", NULL) == TB_EINVAL, "empty is refused");

    tb_error_clear(&err);
    CHECK(tb_path_writable(missing, &err) == TB_EIO &&
              strstr(err.text, "cannot write into folder"),
          "a missing folder is refused: %s", err.text);
    CHECK(tb_path_same_file(file, link) == 1, "a link names the same file");
    CHECK(tb_path_same_file(file, missing) == 0, "a missing file is no match");
}

int main(void)
{
    test_paths();
    test_status_table();
    test_first_error_wins();
    test_parse();
    return tu_finish("common");
}
