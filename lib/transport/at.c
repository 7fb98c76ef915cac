/*
 * AT modem transport: opening and probing the module, and the ops table
 * (see simtrust/at.h). Command syntax and replies are in at_cmd.c and
 * at_reply.c, logical channels in at_channel.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "at_internal.h"
#include "at_port.h"
#include "simtrust/error.h"

#define PATH_MAX_LEN 4096

static int at_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t *rlen)
{
    struct st_at_ctx *c = ctx;
    if (c == NULL || capdu == NULL || rapdu == NULL || rlen == NULL)
        return ST_E_ARG;
    if (clen < 4 || clen > ST_SHORT_APDU_MAX)
        return st_at_fail(c, ST_E_ARG, "C-APDU of %zu bytes", clen);
    if (capdu[0] == 0xFF)
        return st_at_fail(c, ST_E_ARG, "CLA FF is not an APDU class");
    /* Refused here, before anything reaches the line (see at.h). */
    if (clen > c->max_apdu)
        return st_at_fail(c, ST_E_ARG,
                          "APDU of %zu bytes is longer than the module's line allows (%zu)", clen,
                          c->max_apdu);
    if (st_at_channel_owns(c, capdu, clen))
        return st_at_channel_transmit(c, capdu, clen, rapdu, rlen);
    return st_at_csim(c, capdu, clen, rapdu, rlen);
}

static void at_close(void *ctx)
{
    struct st_at_ctx *c = ctx;
    if (c == NULL)
        return;
    st_at_close_all_channels(c);
    close(c->fd);
    free(c);
}

static const struct st_transport_ops at_ops = {
    .name = "at",
    .transmit = at_transmit,
    .open_channel = st_at_open_channel,
    .close_channel = st_at_close_channel,
    .reset = NULL, /* a module resets the SIM only with AT+CFUN, which also drops the network */
    .close = at_close,
};

static struct st_at_ctx *ctx_of(const struct st_transport *t)
{
    return (t != NULL && t->ops == &at_ops) ? t->ctx : NULL;
}

int st_at_last_cme(const struct st_transport *t)
{
    struct st_at_ctx *c = ctx_of(t);
    return c != NULL ? c->last_cme : -1;
}

const char *st_at_last_error(const struct st_transport *t)
{
    struct st_at_ctx *c = ctx_of(t);
    return c != NULL ? c->last_err : "";
}

int st_at_uses_cgla(const struct st_transport *t)
{
    struct st_at_ctx *c = ctx_of(t);
    return c != NULL && c->cgla;
}

static int say(char *err, size_t err_len, int status, const char *msg)
{
    if (err != NULL && err_len > 0)
        snprintf(err, err_len, "%s", msg);
    return status;
}

/* "PATH" or "PATH@BAUD": a trailing "@digits" is the rate, anything else is path. */
static int parse_spec(const char *spec, char *path, unsigned *baud)
{
    size_t n = strlen(spec);
    if (n == 0 || n >= PATH_MAX_LEN)
        return -1;
    memcpy(path, spec, n + 1);
    char *at = strrchr(path, '@');
    if (at == NULL || at[1] == '\0')
        return 0;
    unsigned long v = 0;
    for (const char *p = at + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return 0; /* '@' is part of the path */
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 100000000ul)
            return -1;
    }
    if (at == path)
        return -1;
    *at = '\0';
    *baud = (unsigned)v;
    return 0;
}

/* "AT" until the module answers OK (a module may still be booting). */
static int probe(struct st_at_ctx *c, unsigned timeout_ms, unsigned retries)
{
    int st = ST_E_TIMEOUT;
    for (unsigned i = 0; i < retries; i++) {
        st = st_at_simple(c, "AT", timeout_ms);
        if (st == ST_OK || st == ST_E_LINK_CLOSED || st == ST_E_IO)
            return st;
    }
    return st;
}

static int init_module(struct st_at_ctx *c, const struct st_at_options *o)
{
    unsigned pt = o->probe_timeout_ms ? o->probe_timeout_ms : ST_AT_DEFAULT_PROBE_TIMEOUT_MS;
    unsigned pr = o->probe_retries ? o->probe_retries : ST_AT_DEFAULT_PROBE_RETRIES;
    int st = probe(c, pt, pr);
    if (st != ST_OK)
        return st;
    /*
     * Echo off, though the reply parser also skips echoed lines: some
     * modules keep echoing whatever ATE says (reference §5: THM and ORA
     * skip lines for the same reason).
     */
    st = st_at_simple(c, "ATE0", c->timeout_ms);
    if (st != ST_OK && st != ST_E_MODEM)
        return st;
    /* Numeric +CME ERROR codes instead of a bare ERROR, where supported. */
    st = st_at_simple(c, "AT+CMEE=1", c->timeout_ms);
    if (st != ST_OK && st != ST_E_MODEM)
        return st;
    c->last_cme = -1;
    c->last_err[0] = '\0';
    return ST_OK;
}

int st_at_open(struct st_transport *t, const char *spec, const struct st_at_options *opt, char *err,
               size_t err_len)
{
    static const struct st_at_options defaults;
    const struct st_at_options *o = opt != NULL ? opt : &defaults;
    if (t == NULL || spec == NULL)
        return say(err, err_len, ST_E_ARG, "no transport or device");
    if (o->channels != ST_AT_CHANNELS_AUTO && o->channels != ST_AT_CHANNELS_CSIM &&
        o->channels != ST_AT_CHANNELS_CGLA)
        return say(err, err_len, ST_E_ARG, "unknown channel mode");
    unsigned max_line = o->max_line ? o->max_line : ST_AT_DEFAULT_MAX_LINE;
    if (max_line < ST_AT_MIN_MAX_LINE || max_line > ST_AT_MAX_MAX_LINE)
        return say(err, err_len, ST_E_ARG, "line limit out of range");

    char *path = malloc(PATH_MAX_LEN);
    if (path == NULL)
        return say(err, err_len, ST_E_IO, "out of memory");
    unsigned baud = 0;
    if (parse_spec(spec, path, &baud) != 0) {
        free(path);
        return say(err, err_len, ST_E_ARG, "bad device spec (PATH[@BAUD])");
    }
    if (baud == 0)
        baud = o->baud ? o->baud : ST_AT_DEFAULT_BAUD;

    struct st_at_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        free(path);
        return say(err, err_len, ST_E_IO, "out of memory");
    }
    c->fd = st_at_port_open(path, baud, err, err_len);
    free(path);
    if (c->fd < 0) {
        int st = c->fd;
        free(c);
        return st;
    }
    c->max_line = max_line;
    c->max_apdu = st_at_max_apdu(max_line, o->channels);
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : ST_AT_DEFAULT_TIMEOUT_MS;
    c->mode = o->channels;
    c->cgla = o->channels == ST_AT_CHANNELS_CGLA;
    c->last_cme = -1;

    int st = init_module(c, o);
    if (st != ST_OK) {
        say(err, err_len, st, c->last_err);
        close(c->fd);
        free(c);
        return st;
    }
    t->ops = &at_ops;
    t->ctx = c;
    t->max_apdu = c->max_apdu;
    return ST_OK;
}
