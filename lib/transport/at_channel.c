/*
 * Logical channels over an AT modem (IoT.04 D6: the applet may run on a
 * dedicated logical channel; B.2.1: +CSIM for single APDUs, +CCHO/+CGLA/
 * +CCHC "for services that require more than one APDU").
 *
 * Two ways, chosen per connection (st_at_options.channels):
 *  - AT+CSIM carries MANAGE CHANNEL and the CLA's channel bits like any
 *    APDU; the card numbers the channels.
 *  - AT+CCHO opens a channel with the application selected and names it by
 *    a session id; AT+CGLA=<id> sends APDUs on it (CLA channel bits 0, the
 *    module puts in its own); AT+CCHC closes it. Many modules reserve the
 *    channels for themselves and only offer this (simtrust-card's
 *    --csim-no-channels). The transport gives each session a channel
 *    number of its own so that the APDU layer can keep using CLA bits.
 *
 * In the automatic mode the first refused MANAGE CHANNEL (an ERROR, or any
 * status word but 9000, through +CSIM) switches the connection to the
 * second way for good. MANAGE CHANNEL and SELECT sent through transmit()
 * are emulated in that mode, so a client that does not use the ops table's
 * open_channel() works unchanged.
 */
#include <string.h>

#include "at_internal.h"
#include "simtrust/error.h"

#define INS_MANAGE_CHANNEL 0x70
#define INS_SELECT 0xA4
#define AID_MAX 16

/* Closing sessions at the end should not take a full command timeout each. */
#define CLOSE_TIMEOUT_MS 2000u

unsigned st_at_cla_channel(uint8_t cla)
{
    /* First interindustry class: b2-b1; further interindustry (b7 = 1): 4 + b4-b1. */
    return (cla & 0x40) ? 4u + (cla & 0x0Fu) : (cla & 0x03u);
}

uint8_t st_at_channel_cla(unsigned ch)
{
    return ch < 4 ? (uint8_t)ch : (uint8_t)(0x40 | (ch - 4));
}

/* The same CLA on the basic channel, secure messaging indication kept. */
static uint8_t cla_basic(uint8_t cla)
{
    if ((cla & 0x40) == 0)
        return (uint8_t)(cla & ~0x03u);
    /* Further class b6 (SM, header not processed) is first-class b4-b3 = 10. */
    return (uint8_t)((cla & 0x90) | ((cla & 0x20) ? 0x08 : 0x00));
}

static int sw_reply(uint8_t *r, size_t *rlen, const uint8_t *data, size_t n, uint8_t sw1,
                    uint8_t sw2)
{
    if (*rlen < n + 2)
        return ST_E_BUFFER;
    if (n > 0)
        memcpy(r, data, n);
    r[n] = sw1;
    r[n + 1] = sw2;
    *rlen = n + 2;
    return ST_OK;
}

static bool sw_is(const uint8_t *r, size_t rlen, unsigned sw)
{
    return rlen >= 2 && (((unsigned)r[rlen - 2] << 8) | r[rlen - 1]) == sw;
}

/* A number not given out yet (and not open on the card through +CSIM). */
static int alloc_channel(struct st_at_ctx *c, unsigned wanted)
{
    if (wanted != 0) {
        if (wanted > ST_AT_CHANNEL_MAX || c->ch[wanted].used || c->ch[wanted].csim_open)
            return -1;
        return (int)wanted;
    }
    for (unsigned ch = 1; ch <= ST_AT_CHANNEL_MAX; ch++)
        if (!c->ch[ch].used && !c->ch[ch].csim_open)
            return (int)ch;
    return -1;
}

static void release(struct st_at_ctx *c, unsigned ch)
{
    memset(&c->ch[ch], 0, sizeof(c->ch[ch]));
}

static void switch_to_cgla(struct st_at_ctx *c)
{
    c->cgla = true;
}

/* A MANAGE CHANNEL open answered by the card itself: "<ch> 90 00". */
static bool opened_by_card(const uint8_t *r, size_t rlen, unsigned *ch)
{
    if (rlen != 3 || !sw_is(r, rlen, 0x9000) || r[0] == 0 || r[0] > ST_AT_CHANNEL_MAX)
        return false;
    *ch = r[0];
    return true;
}

bool st_at_channel_owns(const struct st_at_ctx *c, const uint8_t *apdu, size_t n)
{
    if (apdu[1] == INS_MANAGE_CHANNEL)
        return true;
    unsigned ch = st_at_cla_channel(apdu[0]);
    return c->cgla && ch != 0 && c->ch[ch].used;
}

/* MANAGE CHANNEL open through +CSIM; falls back to emulation when allowed. */
static int manage_open_csim(struct st_at_ctx *c, const uint8_t *apdu, size_t n, uint8_t *r,
                            size_t *rlen, bool *refused)
{
    size_t cap = *rlen;
    int st = st_at_csim(c, apdu, n, r, rlen);
    *refused = false;
    if (st == ST_OK) {
        unsigned ch = apdu[3];
        if (sw_is(r, *rlen, 0x9000) && (ch != 0 || opened_by_card(r, *rlen, &ch))) {
            if (ch <= ST_AT_CHANNEL_MAX)
                c->ch[ch].csim_open = true;
            return ST_OK;
        }
    }
    if (c->mode == ST_AT_CHANNELS_AUTO && (st == ST_OK || st == ST_E_MODEM)) {
        *refused = true;
        *rlen = cap;
        return ST_OK;
    }
    return st;
}

/* MANAGE CHANNEL in AT+CCHO mode: numbers only; the session opens at SELECT. */
static int emulate_manage(struct st_at_ctx *c, const uint8_t *apdu, uint8_t *r, size_t *rlen)
{
    uint8_t p1 = apdu[2], p2 = apdu[3];
    if (p1 == 0x00) {
        int ch = alloc_channel(c, p2);
        if (ch < 0)
            return sw_reply(r, rlen, NULL, 0, 0x6A, 0x81); /* no channel free */
        c->ch[ch].used = true;
        uint8_t num = (uint8_t)ch;
        /* P2 = 0: the "card" names the channel in the data. */
        return p2 == 0 ? sw_reply(r, rlen, &num, 1, 0x90, 0x00)
                       : sw_reply(r, rlen, NULL, 0, 0x90, 0x00);
    }
    if (p1 == 0x80) {
        unsigned ch = p2 != 0 ? p2 : st_at_cla_channel(apdu[0]);
        if (ch == 0 || ch > ST_AT_CHANNEL_MAX)
            return sw_reply(r, rlen, NULL, 0, 0x6A, 0x86);
        int st = ST_OK;
        if (c->ch[ch].open)
            st = st_at_cchc(c, c->ch[ch].session, c->timeout_ms);
        /*
         * Closing a channel that is not open answers 9000 like the
         * simulator: ORA and THM close before every open (reference §8).
         */
        release(c, ch);
        return st != ST_OK ? st : sw_reply(r, rlen, NULL, 0, 0x90, 0x00);
    }
    return sw_reply(r, rlen, NULL, 0, 0x6A, 0x86);
}

/* SELECT by DF name (P1 = 04) with its AID; false for any other command. */
static bool select_aid(const uint8_t *apdu, size_t n, const uint8_t **aid, size_t *aid_len)
{
    if (apdu[1] != INS_SELECT || apdu[2] != 0x04 || n < 6)
        return false;
    size_t lc = apdu[4];
    if (lc == 0 || lc > AID_MAX || n < 5 + lc)
        return false;
    *aid = apdu + 5;
    *aid_len = lc;
    return true;
}

int st_at_channel_transmit(struct st_at_ctx *c, const uint8_t *apdu, size_t n, uint8_t *r,
                           size_t *rlen)
{
    if (apdu[1] == INS_MANAGE_CHANNEL) {
        if (!c->cgla) {
            if (apdu[2] != 0x00) {
                int st = st_at_csim(c, apdu, n, r, rlen);
                unsigned ch = apdu[3] != 0 ? apdu[3] : st_at_cla_channel(apdu[0]);
                if (st == ST_OK && apdu[2] == 0x80 && ch <= ST_AT_CHANNEL_MAX)
                    c->ch[ch].csim_open = false;
                return st;
            }
            bool refused;
            int st = manage_open_csim(c, apdu, n, r, rlen, &refused);
            if (st != ST_OK || !refused)
                return st;
            switch_to_cgla(c);
        } else if (apdu[2] == 0x80) {
            unsigned ch = apdu[3] != 0 ? apdu[3] : st_at_cla_channel(apdu[0]);
            if (ch <= ST_AT_CHANNEL_MAX && c->ch[ch].csim_open && !c->ch[ch].used) {
                /* Opened through +CSIM before the fallback: closed the same way. */
                int st = st_at_csim(c, apdu, n, r, rlen);
                if (st == ST_OK)
                    c->ch[ch].csim_open = false;
                return st;
            }
        }
        return emulate_manage(c, apdu, r, rlen);
    }

    unsigned ch = st_at_cla_channel(apdu[0]);
    struct st_at_channel *s = &c->ch[ch];
    const uint8_t *aid;
    size_t aid_len;
    if (!s->open) {
        /* A channel number given out by emulate_manage(): SELECT opens the session. */
        if (!select_aid(apdu, n, &aid, &aid_len))
            return st_at_fail(c, ST_E_STATE,
                              "channel %u: the first command must be a SELECT by AID (+CCHO)", ch);
        int st = st_at_ccho(c, aid, aid_len, &s->session);
        if (st != ST_OK)
            return st;
        s->open = true;
        /* +CCHO returns no FCI: a SELECT that worked is all it can say. */
        return sw_reply(r, rlen, NULL, 0, 0x90, 0x00);
    }
    uint8_t buf[ST_SHORT_APDU_MAX];
    memcpy(buf, apdu, n);
    buf[0] = cla_basic(apdu[0]); /* the module supplies the channel (reference §5) */
    return st_at_cgla(c, s->session, buf, n, r, rlen);
}

int st_at_open_channel(void *ctx, const uint8_t *aid, size_t aid_len, uint8_t *channel)
{
    struct st_at_ctx *c = ctx;
    if (c == NULL || aid == NULL || channel == NULL || aid_len == 0 || aid_len > AID_MAX)
        return ST_E_ARG;
    uint8_t r[ST_RESPONSE_MAX];
    size_t rlen = sizeof(r);
    if (!c->cgla) {
        static const uint8_t open_cmd[] = {0x00, INS_MANAGE_CHANNEL, 0x00, 0x00, 0x01};
        bool refused;
        int st = manage_open_csim(c, open_cmd, sizeof(open_cmd), r, &rlen, &refused);
        if (st != ST_OK)
            return st;
        unsigned ch;
        if (!refused && opened_by_card(r, rlen, &ch)) {
            uint8_t sel[5 + AID_MAX];
            sel[0] = st_at_channel_cla(ch);
            sel[1] = INS_SELECT;
            sel[2] = 0x04;
            sel[3] = 0x00;
            sel[4] = (uint8_t)aid_len;
            memcpy(sel + 5, aid, aid_len);
            rlen = sizeof(r);
            st = st_at_csim(c, sel, 5 + aid_len, r, &rlen);
            /* 61xx: a T=0 card has FCI to give; nobody reads it (reference §1). */
            if (st == ST_OK && (sw_is(r, rlen, 0x9000) || (rlen >= 2 && r[rlen - 2] == 0x61))) {
                *channel = (uint8_t)ch;
                return ST_OK;
            }
            unsigned sw = rlen >= 2 ? ((unsigned)r[rlen - 2] << 8 | r[rlen - 1]) : 0;
            st_at_close_channel(c, (uint8_t)ch);
            if (st != ST_OK)
                return st;
            return st_at_fail(c, ST_E_NOT_FOUND, "SELECT of the application: SW %04X", sw);
        }
        if (!refused)
            return st_at_fail(c, ST_E_UNSUPPORTED, "the card opened no logical channel");
        switch_to_cgla(c);
    }
    int ch = alloc_channel(c, 0);
    if (ch < 0)
        return st_at_fail(c, ST_E_UNSUPPORTED, "no free logical channel number");
    unsigned long session;
    int st = st_at_ccho(c, aid, aid_len, &session);
    if (st != ST_OK)
        return st;
    c->ch[ch].used = true;
    c->ch[ch].open = true;
    c->ch[ch].session = session;
    *channel = (uint8_t)ch;
    return ST_OK;
}

int st_at_close_channel(void *ctx, uint8_t channel)
{
    struct st_at_ctx *c = ctx;
    if (c == NULL || channel == 0 || channel > ST_AT_CHANNEL_MAX)
        return ST_E_ARG;
    struct st_at_channel *s = &c->ch[channel];
    int st = ST_OK;
    if (s->open) {
        st = st_at_cchc(c, s->session, c->timeout_ms);
    } else if (s->csim_open || !c->cgla) {
        /* Case 1 MANAGE CHANNEL close; the status word does not matter here. */
        uint8_t cmd[] = {0x00, INS_MANAGE_CHANNEL, 0x80, channel};
        uint8_t r[ST_RESPONSE_MAX];
        size_t rlen = sizeof(r);
        st = st_at_csim(c, cmd, sizeof(cmd), r, &rlen);
    }
    release(c, channel);
    return st;
}

void st_at_close_all_channels(struct st_at_ctx *c)
{
    /* Sessions the client left open would stay open in the module until it restarts. */
    for (unsigned ch = 1; ch <= ST_AT_CHANNEL_MAX; ch++) {
        if (c->ch[ch].open)
            (void)st_at_cchc(c, c->ch[ch].session, CLOSE_TIMEOUT_MS);
        memset(&c->ch[ch], 0, sizeof(c->ch[ch]));
    }
}
