/*
 * Shared state of the AT transport's files (at.c: open and dispatch,
 * at_cmd.c: command lines and replies, at_channel.c: logical channels).
 */
#ifndef SIMTRUST_AT_INTERNAL_H
#define SIMTRUST_AT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at_reply.h"
#include "simtrust/at.h"

/* ISO 7816-4: basic channel 0, further channels 1..19. */
#define ST_AT_CHANNEL_MAX 19

/*
 * One channel number as the APDU layer sees it. In AT+CSIM mode the card
 * numbers the channels itself (csim_open). In AT+CCHO mode the module hides
 * the card's channel behind a session id, so the transport hands out its
 * own numbers: used marks a number given out, open that a +CCHO session
 * backs it (an emulated MANAGE CHANNEL gives out the number first and opens
 * the session at the SELECT that follows, since +CCHO needs the AID).
 */
struct st_at_channel {
    bool csim_open;
    bool used;
    bool open;
    unsigned long session;
};

struct st_at_ctx {
    int fd;
    size_t max_apdu; /* fixed at open: the transport struct may be copied */
    unsigned max_line;
    unsigned timeout_ms;
    enum st_at_channel_mode mode;
    bool cgla;   /* logical channels go through AT+CCHO/AT+CGLA */
    bool resync; /* the last command timed out: drain late output first */
    int last_cme;
    char last_err[200];
    struct st_at_channel ch[ST_AT_CHANNEL_MAX + 1];
    struct st_at_reply reply;
    char line[ST_AT_MAX_MAX_LINE + 2];
};

/* Records a one-line description of the last error; returns status. */
int st_at_fail(struct st_at_ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends c->line[0..len) plus CR and collects the reply into c->reply. */
int st_at_exchange(struct st_at_ctx *c, size_t len, enum st_at_expect expect, unsigned timeout_ms);

/* A command without parameters or info reply ("AT", "ATE0", ...). */
int st_at_simple(struct st_at_ctx *c, const char *cmd, unsigned timeout_ms);

/* AT+CSIM (session 0) or AT+CGLA=<session>: one APDU, the R-APDU in r. */
int st_at_csim(struct st_at_ctx *c, const uint8_t *apdu, size_t n, uint8_t *r, size_t *rlen);
int st_at_cgla(struct st_at_ctx *c, unsigned long session, const uint8_t *apdu, size_t n,
               uint8_t *r, size_t *rlen);
int st_at_ccho(struct st_at_ctx *c, const uint8_t *aid, size_t aid_len, unsigned long *session);
int st_at_cchc(struct st_at_ctx *c, unsigned long session, unsigned timeout_ms);

/* Largest APDU every command form of the channel mode fits in the line limit. */
size_t st_at_max_apdu(unsigned max_line, enum st_at_channel_mode mode);

/* Logical channel of a CLA byte (0..19), and a CLA for a channel. */
unsigned st_at_cla_channel(uint8_t cla);
uint8_t st_at_channel_cla(unsigned ch);

/*
 * Whether transmit() must handle this APDU in at_channel.c (MANAGE CHANNEL,
 * or any APDU on a channel that a +CCHO session backs), and doing so.
 */
bool st_at_channel_owns(const struct st_at_ctx *c, const uint8_t *apdu, size_t n);
int st_at_channel_transmit(struct st_at_ctx *c, const uint8_t *apdu, size_t n, uint8_t *r,
                           size_t *rlen);

/* The ops table's open_channel / close_channel, and closing all at the end. */
int st_at_open_channel(void *ctx, const uint8_t *aid, size_t aid_len, uint8_t *channel);
int st_at_close_channel(void *ctx, uint8_t channel);
void st_at_close_all_channels(struct st_at_ctx *c);

#endif
