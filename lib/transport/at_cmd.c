/*
 * Command lines of the AT transport and their replies: the only code that
 * writes to and reads from the module (through at_port.c), and the only
 * code that knows the command syntax (27.007 §8.17, §8.43, §8.45, §8.46).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "at_internal.h"
#include "at_port.h"
#include "simtrust/error.h"

/* Quiet time that ends the drain after a timeout, and its upper bound. */
#define RESYNC_QUIET_MS 200
#define RESYNC_MAX_MS 2000

/* Longest session id the reply parser accepts (32 bits). */
#define SESSION_DIGITS_MAX 10

int st_at_fail(struct st_at_ctx *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_err, sizeof(c->last_err), fmt, ap);
    va_end(ap);
    return status;
}

static const char *status_text(int st)
{
    switch (st) {
    case ST_E_TIMEOUT:
        return "no answer in time";
    case ST_E_LINK_CLOSED:
        return "the serial device went away";
    default:
        return "serial I/O failed";
    }
}

/* The command's name for messages: "AT+CSIM" of "AT+CSIM=10,...". */
static int cmd_name_len(const char *line, size_t len)
{
    size_t n = 0;
    while (n < len && n < 16 && line[n] != '=')
        n++;
    return (int)n;
}

int st_at_exchange(struct st_at_ctx *c, size_t len, enum st_at_expect expect, unsigned timeout_ms)
{
    /*
     * Input left from before is never part of this reply: a late answer
     * to a command that timed out would otherwise be taken for this one.
     */
    if (c->resync)
        st_at_port_drain(c->fd, RESYNC_QUIET_MS, RESYNC_MAX_MS);
    else
        st_at_port_drain(c->fd, 0, 0);
    c->resync = false;

    int name_len = cmd_name_len(c->line, len);
    int64_t deadline = st_at_now_ms() + timeout_ms;
    c->line[len] = '\r'; /* V.250 S3; a LF would be an empty line at best */
    int st = st_at_port_write(c->fd, c->line, len + 1, deadline);
    if (st != ST_OK) {
        c->resync = st == ST_E_TIMEOUT;
        return st_at_fail(c, st, "%.*s: %s", name_len, c->line, status_text(st));
    }

    st_at_reply_init(&c->reply, expect);
    while (!c->reply.done) {
        uint8_t buf[256];
        size_t got = 0;
        st = st_at_port_read(c->fd, buf, sizeof(buf), &got, deadline);
        if (st != ST_OK) {
            c->resync = st == ST_E_TIMEOUT;
            return st_at_fail(c, st, "%.*s: %s after %u ms", name_len, c->line, status_text(st),
                              timeout_ms);
        }
        /* Bytes after the final result code are dropped with the next drain. */
        st_at_reply_feed(&c->reply, buf, got);
    }

    c->last_cme = c->reply.cme;
    switch (c->reply.status) {
    case ST_OK:
        c->last_err[0] = '\0';
        return ST_OK;
    case ST_E_MODEM:
        return st_at_fail(c, ST_E_MODEM, "%.*s: modem answered \"%s\"", name_len, c->line,
                          c->reply.final_line);
    default:
        if (c->reply.garbage > ST_AT_REPLY_GARBAGE_MAX)
            return st_at_fail(c, ST_E_PARSE, "%.*s: more than %d unrecognised lines", name_len,
                              c->line, ST_AT_REPLY_GARBAGE_MAX);
        return st_at_fail(c, ST_E_PARSE, "%.*s: \"OK\" without a well-formed answer", name_len,
                          c->line);
    }
}

int st_at_simple(struct st_at_ctx *c, const char *cmd, unsigned timeout_ms)
{
    size_t len = strlen(cmd);
    if (len > c->max_line)
        return st_at_fail(c, ST_E_ARG, "command longer than the line limit");
    memcpy(c->line, cmd, len);
    return st_at_exchange(c, len, ST_AT_EXPECT_NONE, timeout_ms);
}

static size_t put_hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0F];
    }
    return 2 * n;
}

static size_t decimal_digits(unsigned long v)
{
    size_t d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/*
 * Builds prefix + "<2n>,\"<hex>\"" in c->line when it fits the module's
 * line limit; returns the length, or 0 when it does not fit.
 */
static size_t apdu_line(struct st_at_ctx *c, const char *prefix, const uint8_t *apdu, size_t n)
{
    size_t plen = strlen(prefix);
    size_t total = plen + decimal_digits(2 * n) + 2 + 2 * n + 1;
    if (total > c->max_line)
        return 0;
    int k = snprintf(c->line, c->max_line + 1, "%s%zu,\"", prefix, 2 * n);
    if (k < 0 || (size_t)k != total - 2 * n - 1)
        return 0;
    size_t len = (size_t)k + put_hex(c->line + k, apdu, n);
    c->line[len++] = '"';
    return len;
}

static int apdu_command(struct st_at_ctx *c, const char *prefix, enum st_at_expect expect,
                        const uint8_t *apdu, size_t n, uint8_t *r, size_t *rlen)
{
    size_t len = apdu_line(c, prefix, apdu, n);
    if (len == 0)
        return st_at_fail(c, ST_E_ARG,
                          "APDU of %zu bytes does not fit the module's %u-character line "
                          "(at most %zu bytes)",
                          n, c->max_line, c->max_apdu);
    int st = st_at_exchange(c, len, expect, c->timeout_ms);
    if (st != ST_OK)
        return st;
    if (c->reply.data_len > *rlen)
        return st_at_fail(c, ST_E_BUFFER, "R-APDU of %zu bytes, buffer of %zu", c->reply.data_len,
                          *rlen);
    memcpy(r, c->reply.data, c->reply.data_len);
    *rlen = c->reply.data_len;
    return ST_OK;
}

int st_at_csim(struct st_at_ctx *c, const uint8_t *apdu, size_t n, uint8_t *r, size_t *rlen)
{
    return apdu_command(c, "AT+CSIM=", ST_AT_EXPECT_CSIM, apdu, n, r, rlen);
}

int st_at_cgla(struct st_at_ctx *c, unsigned long session, const uint8_t *apdu, size_t n,
               uint8_t *r, size_t *rlen)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "AT+CGLA=%lu,", session);
    return apdu_command(c, prefix, ST_AT_EXPECT_CGLA, apdu, n, r, rlen);
}

int st_at_ccho(struct st_at_ctx *c, const uint8_t *aid, size_t aid_len, unsigned long *session)
{
    size_t len = 9 + 2 * aid_len + 1;
    if (len > c->max_line)
        return st_at_fail(c, ST_E_ARG, "AID too long for the line limit");
    memcpy(c->line, "AT+CCHO=\"", 9);
    put_hex(c->line + 9, aid, aid_len);
    c->line[len - 1] = '"';
    int st = st_at_exchange(c, len, ST_AT_EXPECT_CCHO, c->timeout_ms);
    if (st == ST_OK)
        *session = c->reply.session;
    return st;
}

int st_at_cchc(struct st_at_ctx *c, unsigned long session, unsigned timeout_ms)
{
    int k = snprintf(c->line, c->max_line + 1, "AT+CCHC=%lu", session);
    if (k < 0 || (size_t)k > c->max_line)
        return st_at_fail(c, ST_E_ARG, "command longer than the line limit");
    return st_at_exchange(c, (size_t)k, ST_AT_EXPECT_NONE, timeout_ms);
}

/* Largest APDU whose command fits: fixed characters + length digits + hex. */
static size_t capacity(unsigned max_line, size_t fixed)
{
    for (size_t n = ST_SHORT_APDU_MAX; n > 0; n--)
        if (fixed + decimal_digits(2 * n) + 2 * n <= max_line)
            return n;
    return 0;
}

size_t st_at_max_apdu(unsigned max_line, enum st_at_channel_mode mode)
{
    /* AT+CSIM=<len>,"<hex>": 8 + 2 + 1 fixed characters. */
    size_t cap = capacity(max_line, 11);
    if (mode != ST_AT_CHANNELS_CSIM) {
        /*
         * AT+CGLA=<id>,<len>,"<hex>" may be needed at any time in the other
         * modes (a fallback happens mid-connection), and the APDU layer
         * chunks for one size: assume the longest session id.
         */
        size_t cgla = capacity(max_line, 8 + SESSION_DIGITS_MAX + 1 + 2 + 1);
        if (cgla < cap)
            cap = cgla;
    }
    return cap;
}
