/*
 * The card's life cycle and APDU loop: parse, route to the ISO commands or
 * the IoT SAFE applet, and deliver the response the way the transport
 * expects (direct data, or T=0-style 61xx + GET RESPONSE in modem mode).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apdu_parse.h"
#include "card_iso.h"
#include "image.h"
#include "st_hex.h"
#include "st_secret.h"

struct ins_route {
    uint8_t ins;
    st_cmd_handler fn;
};

/* IoT SAFE instructions (reference §2.1). */
static const struct ins_route applet_routes[] = {
    {0xCB, st_cmd_get_data},       {0xB0, st_cmd_read_file},
    {0x84, st_cmd_get_random},     {0x2A, st_cmd_sign_init},
    {0x2B, st_cmd_sign_update},    {0x2C, st_cmd_verify_init},
    {0x2D, st_cmd_verify_update},  {0x46, st_cmd_compute_dh},
    {0x48, st_cmd_compute_prf},    {0x4A, st_cmd_compute_hkdf},
    {0xB9, st_cmd_generate_key},   {0xCD, st_cmd_read_public_key},
    {0x24, st_cmd_put_key_init},   {0xD8, st_cmd_put_key_update},
};

static st_card *card_alloc(const struct st_card_config *cfg)
{
    st_card *card = calloc(1, sizeof(*card));
    if (card == NULL)
        return NULL;
    card->saved = calloc(1, sizeof(*card->saved));
    if (card->saved == NULL) {
        free(card);
        return NULL;
    }
    card->cfg = *cfg;
    if (cfg->image_path != NULL) {
        card->image_path = strdup(cfg->image_path);
        if (card->image_path == NULL) {
            free(card->saved);
            free(card);
            return NULL;
        }
        card->cfg.image_path = card->image_path;
    }
    st_card_power(card, ST_POWER_ON, NULL, 0);
    return card;
}

st_card *st_card_open(const struct st_card_config *cfg, char *err, size_t err_len)
{
    if (cfg->image_path == NULL) {
        snprintf(err, err_len, "no card image path given");
        return NULL;
    }
    st_card *card = card_alloc(cfg);
    if (card == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (st_image_load(cfg->image_path, &card->state, err, err_len) != 0) {
        st_card_free(card);
        return NULL;
    }
    memcpy(card->saved, &card->state, sizeof(card->state));
    return card;
}

st_card *st_card_new(const struct st_card_config *cfg, const struct st_card_state *state,
                     char *err, size_t err_len)
{
    st_card *card = card_alloc(cfg);
    if (card == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    memcpy(&card->state, state, sizeof(*state));
    memcpy(card->saved, state, sizeof(*state));
    if (cfg->image_path != NULL &&
        st_image_save(cfg->image_path, state, cfg->io, err, err_len) != 0) {
        st_card_free(card);
        return NULL;
    }
    return card;
}

void st_card_free(st_card *card)
{
    if (card == NULL)
        return;
    st_sessions_close_all(card);
    st_wipe(card->saved, sizeof(*card->saved));
    free(card->saved);
    free(card->image_path);
    st_wipe(card, sizeof(*card));
    free(card);
}

size_t st_card_power(st_card *card, enum st_card_power ev, uint8_t *atr, size_t atr_cap)
{
    /* Any power event ends the applet's RAM state, as on a real UICC. */
    st_sessions_close_all(card);
    st_card_state_drop_volatile(&card->state);
    memset(card->ch, 0, sizeof(card->ch));
    st_wipe(card->pending, sizeof(card->pending));
    card->pending_len = card->pending_off = 0;
    if (ev == ST_POWER_OFF)
        return 0;
    card->ch[0].open = true;
    size_t n = card->state.atr_len;
    if (atr == NULL || n > atr_cap)
        return n;
    memcpy(atr, card->state.atr, n);
    return n;
}

void st_card_set_t0_style(st_card *card, bool on)
{
    card->cfg.t0_style = on;
}

const struct st_card_stats *st_card_stats(const st_card *card)
{
    return &card->stats;
}

void st_card_reset_stats(st_card *card)
{
    memset(&card->stats, 0, sizeof(card->stats));
}

const struct st_card_state *st_card_state(const st_card *card)
{
    return &card->state;
}

static bool is_applet_ins(uint8_t ins, st_cmd_handler *fn)
{
    for (size_t i = 0; i < sizeof(applet_routes) / sizeof(applet_routes[0]); i++) {
        if (applet_routes[i].ins == ins) {
            *fn = applet_routes[i].fn;
            return true;
        }
    }
    return false;
}

/* Routes one parsed command; response data (if any) goes to out. */
static uint16_t dispatch(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    switch (a->ins) {
    case 0x70:
        return st_iso_manage_channel(card, a, out);
    case 0xA4:
        return st_iso_select(card, a, out);
    default:
        break;
    }
    st_cmd_handler fn;
    if (!is_applet_ins(a->ins, &fn))
        return SW_INS_NOT_SUPPORTED;
    if (!card->ch[a->channel].open)
        return SW_LOGICAL_CHANNEL;
    if (!card->ch[a->channel].selected)
        return SW_CONDITIONS;
    return fn(card, a, out);
}

/* Status words that may carry response data (normal and warning). */
static bool sw_carries_data(uint16_t sw)
{
    uint8_t sw1 = (uint8_t)(sw >> 8);
    return sw1 == 0x90 || sw1 == 0x62 || sw1 == 0x63;
}

static size_t put_sw(uint8_t *r, size_t off, uint16_t sw)
{
    r[off] = (uint8_t)(sw >> 8);
    r[off + 1] = (uint8_t)sw;
    return off + 2;
}

/* Keeps data for GET RESPONSE and answers 61xx (xx = 00 for 256 or more). */
static size_t defer(st_card *card, const uint8_t *data, size_t n, uint16_t final_sw, uint8_t *r)
{
    memmove(card->pending, data, n);
    card->pending_len = n;
    card->pending_off = 0;
    card->pending_sw = final_sw;
    return put_sw(r, 0, (uint16_t)(0x6100 | (n >= 256 ? 0 : n)));
}

/*
 * Delivers handler output. Modem (T=0) mode answers every case-4 command
 * with 61xx (reference §1, rule 3); direct mode returns up to Le (or 256)
 * bytes and chains the rest with 61xx. A shorter answer than Le is sent as
 * it is, never as 6Cxx: clients send Le=00 where one byte comes back.
 */
static size_t deliver(st_card *card, const struct st_apdu *a, const struct st_resp *res,
                      uint16_t sw, uint8_t *r)
{
    size_t n = sw_carries_data(sw) ? res->len : 0;
    if (n == 0)
        return put_sw(r, 0, sw);
    if (card->cfg.t0_style && a->lc > 0)
        return defer(card, res->buf, n, sw, r);
    size_t limit = a->has_le ? a->le : 256;
    if (n <= limit) {
        memcpy(r, res->buf, n);
        return put_sw(r, n, sw);
    }
    memcpy(r, res->buf, limit);
    size_t rest = n - limit;
    defer(card, res->buf + limit, rest, sw, r + limit);
    return limit + 2;
}

static void trace_apdu(st_card *card, const uint8_t *c, size_t clen, const uint8_t *r, size_t rlen)
{
    char ch[2 * ST_CAPDU_MAX + 1], rh[2 * ST_RAPDU_MAX + 1];
    if (card->cfg.trace == NULL)
        return;
    st_hex_encode(c, clen > ST_CAPDU_MAX ? ST_CAPDU_MAX : clen, ch);
    st_hex_encode(r, rlen, rh);
    fprintf(card->cfg.trace, "#%llu APDU %s -> %s\n", (unsigned long long)card->trace_seq, ch, rh);
    fflush(card->cfg.trace);
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

size_t st_card_transmit(st_card *card, const uint8_t *capdu, size_t clen, uint8_t *rapdu)
{
    struct st_apdu a;
    struct st_resp *res = &card->resp;
    size_t rlen;
    res->len = 0;
    card->op_us = 0;
    card->trace_seq++;

    uint16_t sw = st_apdu_parse(capdu, clen, &a);
    if (sw == SW_OK)
        sw = st_apdu_channel(a.cla, &a.channel);
    if (sw != SW_OK) {
        rlen = put_sw(rapdu, 0, sw);
    } else if (a.ins == 0xC0) {
        rlen = st_iso_get_response(card, &a, rapdu);
    } else {
        /* T=0: any other command drops an unclaimed response. */
        st_wipe(card->pending, card->pending_len);
        card->pending_len = card->pending_off = 0;
        sw = dispatch(card, &a, res);
        rlen = deliver(card, &a, res, sw, rapdu);
    }
    st_wipe(res->buf, res->len);

    struct st_card_stats *s = &card->stats;
    const struct st_latency *lat = &card->cfg.latency;
    uint64_t us = card->op_us + lat->per_apdu_us + (uint64_t)lat->per_byte_us * (clen + rlen);
    s->apdus++;
    s->bytes_in += clen;
    s->bytes_out += rlen;
    s->estimated_us += us;
    trace_apdu(card, capdu, clen, rapdu, rlen);
    if (lat->sleep && us > 0)
        sleep_us(us);
    return rlen;
}
