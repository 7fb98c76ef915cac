#include "st_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "simtrust";
static enum st_log_level log_level = ST_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void st_log_init(const char *prog, enum st_log_level level)
{
    if (prog != NULL)
        log_prog = prog;
    log_level = level;
}

void st_log_set_level(enum st_log_level level)
{
    log_level = level;
}

int st_log_parse_level(const char *name)
{
    for (int i = 0; i <= ST_LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void st_log(enum st_log_level level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

    /* Build the whole line first so concurrent writers do not interleave. */
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s %s[%d] %s: ", when, log_prog, (int)getpid(),
                     level_names[level]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = strlen(line);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
