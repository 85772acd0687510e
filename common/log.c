/*
 * log.c - the one logger: a level threshold and a replaceable sink.
 */
#include "tb.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_threshold = TB_LOG_INFO;
static tb_log_sink log_sink;
static void *log_sink_data;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void tb_log_set_level(int level)
{
    if (level < TB_LOG_DEBUG)
        level = TB_LOG_DEBUG;
    if (level > TB_LOG_ERROR)
        level = TB_LOG_ERROR;
    __atomic_store_n(&log_threshold, level, __ATOMIC_RELAXED);
}

int tb_log_level(void)
{
    return __atomic_load_n(&log_threshold, __ATOMIC_RELAXED);
}

int tb_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void tb_log_set_sink(tb_log_sink sink, void *data)
{
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_data = data;
    pthread_mutex_unlock(&log_lock);
}

/* The default sink: "2026-12-03T17:40:01Z info text" on standard error. */
static void stderr_sink(int level, const char *line)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s %s %s\n", stamp, level_names[level], line);
}

void tb_log(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (level < tb_log_level())
        return;
    if (level > TB_LOG_ERROR)
        level = TB_LOG_ERROR;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&log_lock);
    if (log_sink)
        log_sink(level, line, log_sink_data);
    else
        stderr_sink(level, line);
    pthread_mutex_unlock(&log_lock);
}
