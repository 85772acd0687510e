/*
 * tb.h - what every part of tabula shares: one error space, a caller-owned
 * error record, one logger and a monotonic clock.
 *
 * Status codes follow one rule everywhere: 0 is success, a positive code is
 * an outcome the caller may recover from or report as information, and a
 * negative code is a failure.  Each code has a name, a message and the HTTP
 * status the service answers with, all in one table (common/status.c).
 */
#ifndef TB_H
#define TB_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __GNUC__
#define TB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TB_PRINTF(f, a)
#endif

enum tb_status {
    TB_OK = 0,

    /* Outcomes, not failures. */
    TB_STOP_TARGET = 1, /* training reached its error target */
    TB_STOP_EPOCHS = 2, /* training used up its epochs */
    TB_STOP_TIME = 3,   /* training used up its time limit */
    TB_INTERRUPTED = 4, /* stopped on request (a signal) */
    TB_PARTIAL = 5,     /* done, but some nodes or points failed */
    TB_NOT_FOUND = 6,   /* nothing by that name: a model, a problem */

    /* Failures. */
    TB_ENOMEM = -1,       /* an allocation failed */
    TB_EINVAL = -2,       /* an argument or input is malformed */
    TB_EIO = -3,          /* a file or socket operation failed */
    TB_EFORMAT = -4,      /* a file is not what it claims to be */
    TB_ESOLVER = -5,      /* the ODE solver failed */
    TB_EDOMAIN = -6,      /* a point lies outside the model's domain */
    TB_ELIMIT = -7,       /* a request or input is over a configured limit */
    TB_EMETHOD = -8,      /* an HTTP method a route does not accept */
    TB_EUNSUPPORTED = -9, /* a valid request for something not offered */
    TB_EINTERNAL = -10,   /* a broken invariant: a bug in tabula */
    TB_ENOTAVAIL = -11,   /* a valid request this model cannot serve */
};

/* The symbolic name of a status code, e.g. "TB_EDOMAIN"; never NULL. */
const char *tb_status_name(int code);

/* A short sentence describing a status code; never NULL. */
const char *tb_status_message(int code);

/* The HTTP status the service answers a status code with. */
int tb_status_http(int code);

/*
 * A rich error, owned by the caller.  The first error recorded wins: later
 * calls to tb_error_set on a record that already holds an error do nothing,
 * so the root cause survives as the error travels up.  A NULL record is
 * accepted everywhere and ignored.
 */
typedef struct tb_error {
    int code;       /* a tb_status; 0 while no error is recorded */
    char where[64]; /* the field, file, function or axis at fault */
    char text[320]; /* what was wrong and what was expected */
} tb_error;

/* Empty an error record so that it accepts a new error. */
void tb_error_clear(tb_error *err);

/* Record an error unless one is held already.  Returns code, so that a
 * caller can write `return tb_error_set(err, TB_EINVAL, ...);`. */
int tb_error_set(tb_error *err, int code, const char *where, const char *fmt,
                 ...) TB_PRINTF(4, 5);

/* As tb_error_set, with a va_list. */
int tb_error_vset(tb_error *err, int code, const char *where, const char *fmt,
                  va_list ap);

/*
 * One logger for the whole program: four levels, a threshold set at run time
 * and a replaceable sink.  The default sink writes one line per record to
 * standard error.  Thread-safe.
 */
enum tb_log_level {
    TB_LOG_DEBUG = 0,
    TB_LOG_INFO = 1,
    TB_LOG_WARN = 2,
    TB_LOG_ERROR = 3,
};

typedef void (*tb_log_sink)(int level, const char *line, void *data);

/* Records below level are dropped.  The default is TB_LOG_INFO. */
void tb_log_set_level(int level);

/* The level in force. */
int tb_log_level(void);

/* Parse "debug", "info", "warn" or "error"; returns -1 for anything else. */
int tb_log_level_parse(const char *name);

/* Route records to sink (NULL restores the default sink). */
void tb_log_set_sink(tb_log_sink sink, void *data);

/* Log one record.  Library code writes "function: what failed (numbers)";
 * per-event records use "label key=value ...". */
void tb_log(int level, const char *fmt, ...) TB_PRINTF(2, 3);

#define tb_debug(...) tb_log(TB_LOG_DEBUG, __VA_ARGS__)
#define tb_info(...)  tb_log(TB_LOG_INFO, __VA_ARGS__)
#define tb_warn(...)  tb_log(TB_LOG_WARN, __VA_ARGS__)
#define tb_err(...)   tb_log(TB_LOG_ERROR, __VA_ARGS__)

/* Seconds on a monotonic clock, for timing and progress. */
double tb_now(void);

/* The tabula version string, e.g. "0.1.0". */
const char *tb_version(void);

/* Parse a whole string as a finite double; returns 0 or TB_EINVAL. */
int tb_parse_double(const char *s, double *out);

/* Parse a whole string as a long in [lo, hi]; returns 0 or TB_EINVAL. */
int tb_parse_long(const char *s, long lo, long hi, long *out);

/* Whether path may be replaced by an atomic rename: 0 when it does not
 * exist or is a regular file, else TB_EINVAL (a folder, link or device)
 * or TB_EIO, with the reason in err. */
int tb_path_replaceable(const char *path, tb_error *err);

/* As tb_path_replaceable, and the folder that will hold path accepts a new
 * file (checked by creating and removing one).  For commands to call
 * before long work whose result goes to path. */
int tb_path_writable(const char *path, tb_error *err);

/* Put a fully written temporary file in place: fsync it, rename it to
 * path, fsync the folder.  On failure nothing is left at tmp or (when the
 * rename had happened) at path.  Returns 0 or TB_EIO. */
int tb_path_commit(const char *tmp, const char *path, tb_error *err);

/* 1 when a and b both exist and are the same file, else 0. */
int tb_path_same_file(const char *a, const char *b);

#endif
