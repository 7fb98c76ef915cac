/* Error messages into a caller's buffer (st_errbuf.h). */
#include "st_errbuf.h"

#include <stdarg.h>
#include <stdio.h>

void st_errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}
