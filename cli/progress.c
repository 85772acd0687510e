/*
 * progress.c - progress of long work: one line redrawn in place on a
 * terminal, plain "label key=value" log records every few seconds when
 * standard error is a file or a pipe.
 *
 * While a terminal line is up, log records go through a sink that first
 * clears it, so that a library's log line never lands in the middle of it.
 */
#include "cli.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define TTY_INTERVAL   0.1 /* seconds between redraws on a terminal */
#define PLAIN_INTERVAL 5.0 /* seconds between plain lines */

static pthread_mutex_t draw_lock = PTHREAD_MUTEX_INITIALIZER;
static cli_progress *active; /* the display owning the terminal line */

/* Clear the terminal line if one is up.  Called with draw_lock held. */
static void clear_line(void)
{
    if (active && active->on_screen) {
        fputs("\r\033[K", stderr);
        active->on_screen = 0;
    }
}

/* The logger's record format, "2026-12-03T17:40:01Z info text", written
 * after clearing the progress line. */
static void tty_sink(int level, const char *line, void *data)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    (void)data;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

    pthread_mutex_lock(&draw_lock);
    clear_line();
    fprintf(stderr, "%s %s %s\n", stamp, names[level & 3], line);
    pthread_mutex_unlock(&draw_lock);
}

void cli_progress_init(cli_progress *pr, const char *label)
{
    snprintf(pr->label, sizeof(pr->label), "%s", label);
    pr->tty = isatty(STDERR_FILENO) && tb_log_level() <= TB_LOG_INFO;
    pr->start = tb_now();
    pr->last = pr->start;
    pr->on_screen = 0;
    if (!pr->tty)
        return;

    pthread_mutex_lock(&draw_lock);
    active = pr;
    pthread_mutex_unlock(&draw_lock);
    tb_log_set_sink(tty_sink, NULL);
}

void cli_progress_show(cli_progress *pr, int force, const char *fmt, ...)
{
    double now = tb_now();
    char text[256];
    va_list ap;

    if (!force && now - pr->last < (pr->tty ? TTY_INTERVAL : PLAIN_INTERVAL))
        return;
    pr->last = now;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);

    if (!pr->tty) {
        tb_info("%s %s elapsed=%.1fs", pr->label, text, now - pr->start);
        return;
    }

    /* On a terminal the line is rewritten in place and its tail cleared. */
    pthread_mutex_lock(&draw_lock);
    fprintf(stderr, "\r%s %s elapsed=%.0fs\033[K", pr->label, text,
            now - pr->start);
    fflush(stderr);
    pr->on_screen = 1;
    pthread_mutex_unlock(&draw_lock);
}

void cli_progress_end(cli_progress *pr)
{
    if (!pr->tty)
        return;
    tb_log_set_sink(NULL, NULL);

    pthread_mutex_lock(&draw_lock);
    if (pr->on_screen)
        fputc('\n', stderr);
    pr->on_screen = 0;
    if (active == pr)
        active = NULL;
    pthread_mutex_unlock(&draw_lock);
}
