/*
 * Error messages into a caller's buffer, the convention of simtrust's library
 * calls that take (char *err, size_t errcap): formats into err when err is not
 * NULL and errcap > 0, truncating; never fails.
 */
#ifndef SIMTRUST_COMMON_ERRBUF_H
#define SIMTRUST_COMMON_ERRBUF_H

#include <stddef.h>

void st_errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
