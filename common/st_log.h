/*
 * Logging for simtrust programs: one line per event on stderr,
 * "2026-11-28T00:00:00Z simtrust-card[1234] warn: <message>" (or JSON lines,
 * st_log_set_json).
 * Never pass secret values to these functions.
 */
#ifndef SIMTRUST_COMMON_LOG_H
#define SIMTRUST_COMMON_LOG_H

enum st_log_level { ST_LOG_ERROR = 0, ST_LOG_WARN, ST_LOG_INFO, ST_LOG_DEBUG };

/* Sets the program name shown in each line and the most verbose level shown. */
void st_log_init(const char *prog, enum st_log_level level);
void st_log_set_level(enum st_log_level level);
/* JSON lines instead of text (on != 0): one object per line,
 * {"time":"2026-11-28T00:00:00Z","prog":"simtrust-gateway","pid":1234,
 *  "level":"warn","msg":"<message>"}; the message is JSON-escaped. */
void st_log_set_json(int on);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int st_log_parse_level(const char *name);

void st_log(enum st_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define st_err(...) st_log(ST_LOG_ERROR, __VA_ARGS__)
#define st_warn(...) st_log(ST_LOG_WARN, __VA_ARGS__)
#define st_info(...) st_log(ST_LOG_INFO, __VA_ARGS__)
#define st_debug(...) st_log(ST_LOG_DEBUG, __VA_ARGS__)

#endif
