#include "st_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "simtrust";
static enum st_log_level log_level = ST_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};
static int log_json;

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

void st_log_set_json(int on)
{
    log_json = on != 0;
}

/* Appends s JSON-escaped to out[*n..cap-1]; stops (truncates) when full. */
static void json_escape(char *out, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[7];
        size_t el = 0;
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            el = 2;
        } else if (ch == '\n' || ch == '\r' || ch == '\t') {
            esc[0] = '\\';
            esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
            el = 2;
        } else if (ch < 0x20 || ch == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            el = 6;
        } else {
            esc[0] = (char)ch;
            el = 1;
        }
        if (*n + el >= cap)
            return;
        memcpy(out + *n, esc, el);
        *n += el;
    }
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

    if (log_json) {
        char msg[1024], line[2200];
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (m < 0)
            return;
        int n = snprintf(line, sizeof(line), "{\"time\":\"%s\",\"prog\":\"", when);
        if (n < 0)
            return;
        size_t len = (size_t)n;
        json_escape(line, sizeof(line) - 80, &len, log_prog);
        n = snprintf(line + len, sizeof(line) - len, "\",\"pid\":%d,\"level\":\"%s\",\"msg\":\"",
                     (int)getpid(), level_names[level]);
        if (n < 0)
            return;
        len += (size_t)n;
        json_escape(line, sizeof(line) - 3, &len, msg);
        memcpy(line + len, "\"}\n", 3);
        fwrite(line, 1, len + 3, stderr);
        return;
    }
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
