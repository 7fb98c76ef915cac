/*
 * The APDU layer: short-APDU encoding, channels in the CLA, GET RESPONSE on
 * 61xx / 9Fxx, re-send on 6Cxx, status-word mapping, trace and lock hooks.
 * See simtrust/apdu.h. Behaviour of real clients and cards this follows:
 * reference §1 "GET RESPONSE, 61xx and 6Cxx handling" (THM/THP loop and
 * concatenate; ATS uses the command's 8X CLA; 91xx is success for THM/THP).
 */
#include <string.h>

#include "simtrust/apdu.h"

/* Upper bound on GET RESPONSE rounds: a card that keeps answering 61xx with
 * no data would otherwise keep us here forever. 4 KB / 256 = 16 is the
 * largest legitimate chain the IoT SAFE commands produce; allow margin. */
#define MAX_GET_RESPONSE 64

void st_sim_init(struct st_sim *sim, const struct st_transport *tr)
{
    memset(sim, 0, sizeof(*sim));
    sim->tr = *tr;
    sim->detail = "";
}

void st_sim_set_trace(struct st_sim *sim, st_trace_fn fn, void *arg)
{
    sim->trace = fn;
    sim->trace_arg = fn != NULL ? arg : NULL;
}

int st_sim_set_lock(struct st_sim *sim, st_lock_fn lock, st_lock_fn unlock, void *arg)
{
    if ((lock == NULL) != (unlock == NULL))
        return ST_E_ARG;
    sim->lock = lock;
    sim->unlock = unlock;
    sim->lock_arg = lock != NULL ? arg : NULL;
    return ST_OK;
}

void st_sim_lock(struct st_sim *sim)
{
    if (sim->lock != NULL)
        sim->lock(sim->lock_arg);
}

void st_sim_unlock(struct st_sim *sim)
{
    if (sim->unlock != NULL)
        sim->unlock(sim->lock_arg);
}

uint16_t st_sim_last_sw(const struct st_sim *sim)
{
    return sim->last_sw;
}

const char *st_sim_detail(const struct st_sim *sim)
{
    return sim->detail != NULL ? sim->detail : "";
}

void st_sim_set_detail(struct st_sim *sim, const char *s)
{
    sim->detail = s != NULL ? s : "";
}

size_t st_sim_max_apdu(const struct st_sim *sim)
{
    size_t m = sim->tr.max_apdu;
    return (m == 0 || m > ST_SHORT_APDU_MAX) ? ST_SHORT_APDU_MAX : m;
}

const struct st_transport *st_sim_transport(const struct st_sim *sim)
{
    return &sim->tr;
}

uint8_t st_apdu_cla(uint8_t cls, uint8_t channel)
{
    if (cls != ST_CLA_ISO && cls != ST_CLA_PROPRIETARY)
        return 0xFF;
    if (channel <= 3)
        return (uint8_t)(cls | channel);
    if (channel <= ST_CHANNEL_MAX) /* further interindustry: b7 set, b4-b1 = ch - 4 */
        return (uint8_t)(cls | 0x40 | (channel - 4));
    return 0xFF;
}

int st_apdu_encode(const struct st_apdu *cmd, uint8_t *out, size_t *out_len)
{
    if (cmd == NULL || out_len == NULL)
        return ST_E_ARG;
    if (cmd->lc > 255 || cmd->le > 256 || (cmd->lc > 0 && cmd->data == NULL))
        return ST_E_ARG;
    uint8_t cla = st_apdu_cla(cmd->cla, (cmd->flags & ST_APDU_BASIC) ? 0 : cmd->channel);
    if (cla == 0xFF)
        return ST_E_ARG;
    size_t n = 4 + (cmd->lc > 0 ? 1 + cmd->lc : 0) + (cmd->le > 0 ? 1 : 0);
    if (out == NULL || n > *out_len)
        return ST_E_BUFFER;
    out[0] = cla;
    out[1] = cmd->ins;
    out[2] = cmd->p1;
    out[3] = cmd->p2;
    size_t off = 4;
    if (cmd->lc > 0) {
        out[off++] = (uint8_t)cmd->lc;
        memcpy(out + off, cmd->data, cmd->lc);
        off += cmd->lc;
    }
    if (cmd->le > 0)
        out[off++] = (uint8_t)(cmd->le & 0xFF); /* 256 -> 00 */
    *out_len = off;
    return ST_OK;
}

/* One C-APDU out, one R-APDU into sim->rbuf; checks the R-APDU's shape. */
static int xmit(struct st_sim *sim, const uint8_t *c, size_t clen, size_t *rlen)
{
    size_t cap = sizeof(sim->rbuf);
    if (sim->trace != NULL)
        sim->trace(sim->trace_arg, ST_TRACE_COMMAND, c, clen);
    int rc = sim->tr.ops->transmit(sim->tr.ctx, c, clen, sim->rbuf, &cap);
    if (rc != ST_OK)
        return rc < 0 ? rc : ST_E_IO; /* a positive code breaks the contract */
    if (cap < 2 || cap > sizeof(sim->rbuf)) {
        sim->detail = "the transport returned an R-APDU without a status word";
        return ST_E_PARSE;
    }
    if (sim->trace != NULL)
        sim->trace(sim->trace_arg, ST_TRACE_RESPONSE, sim->rbuf, cap);
    *rlen = cap;
    return ST_OK;
}

/* Appends the data part of sim->rbuf to resp. */
static int take_data(struct st_sim *sim, size_t rlen, uint8_t *resp, size_t cap, size_t *off)
{
    size_t n = rlen - 2;
    if (n == 0)
        return ST_OK;
    if (resp == NULL || n > cap - *off) {
        sim->detail = "the card's answer is longer than the caller's buffer";
        return ST_E_BUFFER;
    }
    memcpy(resp + *off, sim->rbuf, n);
    *off += n;
    return ST_OK;
}

static uint16_t rsw(const struct st_sim *sim, size_t rlen)
{
    return (uint16_t)(sim->rbuf[rlen - 2] << 8 | sim->rbuf[rlen - 1]);
}

/*
 * Re-sends c with Le = le (6Cxx): replaces the Le byte of a case 2/4
 * command, or appends one to a case 1/3 command.
 */
static int with_le(const struct st_sim *sim, uint8_t *c, size_t *clen, bool has_le, uint8_t le)
{
    if (has_le) {
        c[*clen - 1] = le;
        return ST_OK;
    }
    if (*clen + 1 > st_sim_max_apdu(sim))
        return ST_E_UNSUPPORTED;
    c[(*clen)++] = le;
    return ST_OK;
}

/* The exchange proper, with the lock held. */
static int exchange_locked(struct st_sim *sim, uint8_t *c, size_t clen, bool has_le, uint8_t *resp,
                           size_t cap, size_t *got, uint16_t *sw_out)
{
    size_t rlen = 0, off = 0;
    bool resent = false;
    uint16_t sw;
    int rc;

    for (;;) {
        rc = xmit(sim, c, clen, &rlen);
        if (rc != ST_OK)
            return rc;
        sw = rsw(sim, rlen);
        if ((sw >> 8) != 0x6C || resent)
            break;
        /* 6Cxx: wrong Le, xx is the right one (no data comes with it). */
        resent = true;
        rc = with_le(sim, c, &clen, has_le, (uint8_t)sw);
        if (rc != ST_OK) {
            sim->detail = "6Cxx asks for an Le the link cannot carry";
            return rc;
        }
        has_le = true;
    }
    rc = take_data(sim, rlen, resp, cap, &off);
    if (rc != ST_OK)
        return rc;

    /* 61xx (and the GSM 9Fxx): more data waits for GET RESPONSE. */
    for (int round = 0; (sw >> 8) == 0x61 || (sw >> 8) == 0x9F; round++) {
        if (round == MAX_GET_RESPONSE) {
            sim->detail = "the card keeps answering 61xx";
            return ST_E_PARSE;
        }
        uint8_t gr[5] = {c[0], 0xC0, 0x00, 0x00, (uint8_t)sw};
        size_t grlen = sizeof(gr);
        rc = xmit(sim, gr, grlen, &rlen);
        if (rc != ST_OK)
            return rc;
        sw = rsw(sim, rlen);
        if ((sw >> 8) == 0x6C) { /* GET RESPONSE with a wrong Le: once more */
            gr[4] = (uint8_t)sw;
            rc = xmit(sim, gr, grlen, &rlen);
            if (rc != ST_OK)
                return rc;
            sw = rsw(sim, rlen);
        }
        rc = take_data(sim, rlen, resp, cap, &off);
        if (rc != ST_OK)
            return rc;
    }
    *got = off;
    *sw_out = sw;
    return ST_OK;
}

int st_sim_exchange_held(struct st_sim *sim, const struct st_apdu *cmd, uint8_t *resp,
                         size_t *resp_len, uint16_t *sw)
{
    uint8_t c[ST_SHORT_APDU_MAX + 1];
    size_t clen = ST_SHORT_APDU_MAX;
    if (sim == NULL || sw == NULL)
        return ST_E_ARG;
    int rc = st_apdu_encode(cmd, c, &clen);
    if (rc != ST_OK)
        return rc == ST_E_BUFFER ? ST_E_ARG : rc;
    if (clen > st_sim_max_apdu(sim)) {
        sim->detail = "the command is longer than the link's max_apdu";
        return ST_E_UNSUPPORTED;
    }
    size_t cap = resp_len != NULL ? *resp_len : 0;
    size_t got = 0;
    uint16_t s = 0;

    sim->last_sw = 0;
    rc = exchange_locked(sim, c, clen, cmd->le > 0, resp, cap, &got, &s);
    if (rc != ST_OK)
        return rc;
    sim->last_sw = s;
    *sw = s;
    if (resp_len != NULL)
        *resp_len = got;
    return ST_OK;
}

int st_sim_exchange(struct st_sim *sim, const struct st_apdu *cmd, uint8_t *resp, size_t *resp_len,
                    uint16_t *sw)
{
    if (sim == NULL)
        return ST_E_ARG;
    st_sim_lock(sim);
    sim->detail = "";
    int rc = st_sim_exchange_held(sim, cmd, resp, resp_len, sw);
    st_sim_unlock(sim);
    return rc;
}

/* SWs that mean success (apdu.h, st_sim_command). */
static bool sw_success(uint16_t sw)
{
    return sw == 0x9000 || (sw >> 8) == 0x91 || sw == 0x63CF;
}

int st_sim_command_held(struct st_sim *sim, const struct st_apdu *cmd, uint8_t *resp,
                        size_t *resp_len)
{
    size_t n = resp_len != NULL ? *resp_len : 0;
    uint16_t sw;
    int rc = st_sim_exchange_held(sim, cmd, resp, resp_len != NULL ? &n : NULL, &sw);
    if (rc != ST_OK)
        return rc;
    if (!sw_success(sw))
        return st_status_from_sw(sw);
    if (resp_len != NULL)
        *resp_len = n;
    return ST_OK;
}

int st_sim_command(struct st_sim *sim, const struct st_apdu *cmd, uint8_t *resp, size_t *resp_len)
{
    if (sim == NULL)
        return ST_E_ARG;
    st_sim_lock(sim);
    sim->detail = "";
    int rc = st_sim_command_held(sim, cmd, resp, resp_len);
    st_sim_unlock(sim);
    return rc;
}

int st_sim_open_channel_held(struct st_sim *sim, uint8_t *channel)
{
    const struct st_apdu cmd = {.cla = ST_CLA_ISO, .ins = 0x70, .flags = ST_APDU_BASIC, .le = 1};
    uint8_t ch[2];
    size_t n = sizeof(ch);
    if (channel == NULL)
        return ST_E_ARG;
    int rc = st_sim_command_held(sim, &cmd, ch, &n);
    if (rc != ST_OK) {
        uint16_t sw = st_sim_last_sw(sim);
        return (sw == 0x6881 || sw == 0x6A81) ? ST_E_CARD_CHANNEL : rc;
    }
    if (n != 1 || ch[0] == 0 || ch[0] > ST_CHANNEL_MAX) {
        sim->detail = "MANAGE CHANNEL open did not return one channel number";
        return ST_E_PARSE;
    }
    *channel = ch[0];
    return ST_OK;
}

int st_sim_close_channel_held(struct st_sim *sim, uint8_t channel)
{
    if (channel == 0 || channel > ST_CHANNEL_MAX)
        return ST_E_ARG;
    const struct st_apdu cmd = {
        .cla = ST_CLA_ISO, .ins = 0x70, .p1 = 0x80, .p2 = channel, .flags = ST_APDU_BASIC};
    return st_sim_command_held(sim, &cmd, NULL, NULL);
}

int st_sim_select_held(struct st_sim *sim, uint8_t channel, const uint8_t *aid, size_t aid_len)
{
    uint8_t fci[ST_RESPONSE_MAX];
    size_t n = sizeof(fci);
    if (aid == NULL || aid_len == 0 || aid_len > 16)
        return ST_E_ARG;
    const struct st_apdu cmd = {.cla = ST_CLA_ISO,
                                .ins = 0xA4,
                                .p1 = 0x04,
                                .p2 = 0x00,
                                .channel = channel,
                                .data = aid,
                                .lc = aid_len};
    return st_sim_command_held(sim, &cmd, fci, &n);
}

int st_sim_open_channel(struct st_sim *sim, uint8_t *channel)
{
    if (sim == NULL)
        return ST_E_ARG;
    st_sim_lock(sim);
    int rc = st_sim_open_channel_held(sim, channel);
    st_sim_unlock(sim);
    return rc;
}

int st_sim_close_channel(struct st_sim *sim, uint8_t channel)
{
    if (sim == NULL)
        return ST_E_ARG;
    st_sim_lock(sim);
    int rc = st_sim_close_channel_held(sim, channel);
    st_sim_unlock(sim);
    return rc;
}

int st_sim_select(struct st_sim *sim, uint8_t channel, const uint8_t *aid, size_t aid_len)
{
    if (sim == NULL)
        return ST_E_ARG;
    st_sim_lock(sim);
    int rc = st_sim_select_held(sim, channel, aid, aid_len);
    st_sim_unlock(sim);
    return rc;
}
