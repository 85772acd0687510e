/*
 * status.c - the one table of status codes, and the caller-owned error
 * record built on it.
 */
#include "tb.h"

#include <stdio.h>
#include <string.h>

struct status_row {
    int code;
    const char *name;
    const char *message;
    int http;
};

/* Every status code, its name, its message and its HTTP status. */
static const struct status_row status_table[] = {
    {TB_OK, "TB_OK", "success", 200},
    {TB_STOP_TARGET, "TB_STOP_TARGET", "the error target was reached", 200},
    {TB_STOP_EPOCHS, "TB_STOP_EPOCHS", "the epoch limit was reached", 200},
    {TB_STOP_TIME, "TB_STOP_TIME", "the time limit was reached", 200},
    {TB_INTERRUPTED, "TB_INTERRUPTED", "stopped on request", 503},
    {TB_PARTIAL, "TB_PARTIAL", "some nodes or points failed", 200},
    {TB_NOT_FOUND, "TB_NOT_FOUND", "no such name", 404},
    {TB_ENOMEM, "TB_ENOMEM", "out of memory", 503},
    {TB_EINVAL, "TB_EINVAL", "invalid input", 400},
    {TB_EIO, "TB_EIO", "input/output error", 500},
    {TB_EFORMAT, "TB_EFORMAT", "not a valid tabula file", 500},
    {TB_ESOLVER, "TB_ESOLVER", "the solver failed", 500},
    {TB_EDOMAIN, "TB_EDOMAIN", "outside the model's domain", 422},
    {TB_ELIMIT, "TB_ELIMIT", "over a configured limit", 413},
    {TB_EMETHOD, "TB_EMETHOD", "method not allowed", 405},
    {TB_EUNSUPPORTED, "TB_EUNSUPPORTED", "not supported", 400},
    {TB_EINTERNAL, "TB_EINTERNAL", "internal error", 500},
    {TB_ENOTAVAIL, "TB_ENOTAVAIL", "not available for this model", 422},
};

static const struct status_row *status_find(int code)
{
    size_t n = sizeof(status_table) / sizeof(status_table[0]);

    for (size_t i = 0; i < n; i++)
        if (status_table[i].code == code)
            return &status_table[i];
    return NULL;
}

const char *tb_status_name(int code)
{
    const struct status_row *row = status_find(code);

    return row ? row->name : "TB_UNKNOWN";
}

const char *tb_status_message(int code)
{
    const struct status_row *row = status_find(code);

    return row ? row->message : "unknown status";
}

int tb_status_http(int code)
{
    const struct status_row *row = status_find(code);

    return row ? row->http : 500;
}

void tb_error_clear(tb_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int tb_error_vset(tb_error *err, int code, const char *where, const char *fmt,
                  va_list ap)
{
    if (!err || err->code != 0)
        return code;

    err->code = code;
    snprintf(err->where, sizeof(err->where), "%s", where ? where : "");
    if (fmt)
        vsnprintf(err->text, sizeof(err->text), fmt, ap);
    else
        snprintf(err->text, sizeof(err->text), "%s", tb_status_message(code));
    return code;
}

int tb_error_set(tb_error *err, int code, const char *where, const char *fmt,
                 ...)
{
    va_list ap;

    va_start(ap, fmt);
    tb_error_vset(err, code, where, fmt, ap);
    va_end(ap);
    return code;
}
