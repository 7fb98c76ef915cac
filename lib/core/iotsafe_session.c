/*
 * IoT SAFE client: configuration, opening and closing the applet (logical
 * channel + SELECT, IoT.04 D6/I6), and the helpers every command file uses.
 * See simtrust/iotsafe.h. Channel handling per reference §1: MANAGE CHANNEL
 * open 00 70 00 00 01 (ORA, THM, THP), SELECT with CLA 0X on the new channel,
 * close 00 70 80 <ch>; AT+CCHO modems through the transport's open_channel.
 */
#include <string.h>

#include "iotsafe_int.h"

void st_iotsafe_config_default(struct st_iotsafe_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->aid, ST_IOTSAFE_AID_DEFAULT, ST_IOTSAFE_AID_DEFAULT_LEN);
    cfg->aid_len = ST_IOTSAFE_AID_DEFAULT_LEN;
    cfg->cla = ST_CLA_PROPRIETARY;
    cfg->session_sign = 0x01;
    cfg->session_verify = 0x01;
    cfg->session_putkey = 0x02;
}

int st_iotsafe_init(struct st_iotsafe *ios, struct st_sim *sim, const struct st_iotsafe_config *cfg)
{
    struct st_iotsafe_config c;
    if (ios == NULL || sim == NULL)
        return ST_E_ARG;
    if (cfg != NULL)
        c = *cfg;
    else
        st_iotsafe_config_default(&c);
    if (c.aid_len == 0 || c.aid_len > ST_IOTSAFE_AID_MAX)
        return ST_E_ARG;
    if (c.cla != ST_CLA_ISO && c.cla != ST_CLA_PROPRIETARY)
        return ST_E_ARG;
    if ((c.flags & ST_IOTSAFE_MANAGE_CHANNEL) && (c.flags & ST_IOTSAFE_TRANSPORT_CHANNEL))
        return ST_E_ARG;
    memset(ios, 0, sizeof(*ios));
    ios->sim = sim;
    ios->cfg = c;
    return ST_OK;
}

struct st_sim *st_iotsafe_sim(const struct st_iotsafe *ios)
{
    return ios->sim;
}

bool st_iotsafe_is_open(const struct st_iotsafe *ios)
{
    return ios->open;
}

uint8_t st_iotsafe_channel(const struct st_iotsafe *ios)
{
    return ios->channel;
}

int st_ios_begin(struct st_iotsafe *ios, bool need_open)
{
    if (ios == NULL || ios->sim == NULL)
        return ST_E_ARG;
    st_sim_lock(ios->sim);
    st_sim_set_detail(ios->sim, "");
    if (need_open && !ios->open) {
        st_sim_set_detail(ios->sim, "the IoT SAFE applet is not open (st_iotsafe_open)");
        st_sim_unlock(ios->sim);
        return ST_E_STATE;
    }
    return ST_OK;
}

int st_ios_end(struct st_iotsafe *ios, int rc)
{
    st_sim_unlock(ios->sim);
    return rc;
}

/* Which way to open a channel: see the ST_IOTSAFE_*_CHANNEL flags. */
static bool use_transport_channel(const struct st_iotsafe *ios)
{
    const struct st_transport *tr = st_sim_transport(ios->sim);
    bool has = tr->ops->open_channel != NULL && tr->ops->close_channel != NULL;
    if (ios->cfg.flags & ST_IOTSAFE_MANAGE_CHANNEL)
        return false;
    return has;
}

static int open_locked(struct st_iotsafe *ios)
{
    const struct st_transport *tr = st_sim_transport(ios->sim);
    const struct st_iotsafe_config *c = &ios->cfg;
    uint8_t ch = 0;
    int rc;

    if (c->flags & ST_IOTSAFE_BASIC_CHANNEL) {
        rc = st_sim_select_held(ios->sim, 0, c->aid, c->aid_len);
        if (rc != ST_OK)
            return rc;
        ios->via_transport = false;
    } else if ((c->flags & ST_IOTSAFE_TRANSPORT_CHANNEL) || use_transport_channel(ios)) {
        if (tr->ops->open_channel == NULL || tr->ops->close_channel == NULL)
            return st_ios_unsupported(ios, "the transport cannot open logical channels itself");
        rc = tr->ops->open_channel(tr->ctx, c->aid, c->aid_len, &ch);
        if (rc != ST_OK)
            return rc;
        if (ch == 0 || ch > ST_CHANNEL_MAX) {
            if (ch != 0)
                (void)tr->ops->close_channel(tr->ctx, ch);
            return st_ios_fail(ios, ST_E_PARSE, "the transport opened an invalid channel");
        }
        ios->via_transport = true;
    } else {
        rc = st_sim_open_channel_held(ios->sim, &ch);
        if (rc != ST_OK)
            return rc;
        rc = st_sim_select_held(ios->sim, ch, c->aid, c->aid_len);
        if (rc != ST_OK) {
            uint16_t sw = st_sim_last_sw(ios->sim);
            (void)st_sim_close_channel_held(ios->sim, ch);
            ios->sim->last_sw = sw; /* report the SELECT's answer, not the close's */
            return rc;
        }
        ios->via_transport = false;
    }
    ios->channel = ch;
    ios->open = true;
    return ST_OK;
}

int st_iotsafe_open(struct st_iotsafe *ios)
{
    int rc = st_ios_begin(ios, false);
    if (rc != ST_OK)
        return rc;
    if (ios->open)
        return st_ios_end(ios, st_ios_fail(ios, ST_E_STATE, "the applet is already open"));
    return st_ios_end(ios, open_locked(ios));
}

int st_iotsafe_close(struct st_iotsafe *ios)
{
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    if (ios->channel != 0) {
        if (ios->via_transport) {
            const struct st_transport *tr = st_sim_transport(ios->sim);
            rc = tr->ops->close_channel(tr->ctx, ios->channel);
        } else {
            rc = st_sim_close_channel_held(ios->sim, ios->channel);
        }
    }
    ios->open = false;
    ios->channel = 0;
    ios->via_transport = false;
    return st_ios_end(ios, rc);
}

int st_ios_exchange(struct st_iotsafe *ios, uint8_t ins, uint8_t p1, uint8_t p2,
                    const uint8_t *data, size_t lc, size_t le, uint8_t *resp, size_t *resp_len,
                    uint16_t *sw)
{
    const struct st_apdu cmd = {.cla = ios->cfg.cla,
                                .ins = ins,
                                .p1 = p1,
                                .p2 = p2,
                                .channel = ios->channel,
                                .data = data,
                                .lc = lc,
                                .le = le};
    return st_sim_exchange_held(ios->sim, &cmd, resp, resp_len, sw);
}

int st_ios_command(struct st_iotsafe *ios, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data,
                   size_t lc, size_t le, uint8_t *resp, size_t *resp_len)
{
    const struct st_apdu cmd = {.cla = ios->cfg.cla,
                                .ins = ins,
                                .p1 = p1,
                                .p2 = p2,
                                .channel = ios->channel,
                                .data = data,
                                .lc = lc,
                                .le = le};
    return st_sim_command_held(ios->sim, &cmd, resp, resp_len);
}

uint8_t st_ios_id_tag(enum st_iotsafe_kind kind)
{
    static const uint8_t tags[4] = {0x84, 0x85, 0x83, 0x86};
    return tags[(unsigned)kind & 3];
}

bool st_ios_ref_ok(const struct st_iotsafe_ref *ref)
{
    if (ref == NULL || ref->len == 0)
        return false;
    return ref->len <= (ref->by_label ? ST_IOTSAFE_LABEL_MAX : ST_IOTSAFE_ID_MAX);
}

void st_ios_put_ref(struct st_tlv_writer *w, enum st_iotsafe_kind kind,
                    const struct st_iotsafe_ref *ref)
{
    uint8_t tag = st_ios_id_tag(kind);
    if (ref->by_label)
        tag = (uint8_t)(tag - 0x10);
    st_tlv_put(w, tag, ref->bytes, ref->len);
}

int st_ios_ref_from_tlv(struct st_iotsafe_ref *ref, const struct st_tlv_item *t, bool by_label)
{
    size_t max = by_label ? ST_IOTSAFE_LABEL_MAX : ST_IOTSAFE_ID_MAX;
    if (t->len == 0 || t->len > max)
        return ST_E_PARSE;
    ref->by_label = by_label;
    ref->len = (uint8_t)t->len;
    memcpy(ref->bytes, t->value, t->len);
    return ST_OK;
}

int st_iotsafe_ref_id(struct st_iotsafe_ref *ref, const uint8_t *id, size_t len)
{
    if (ref == NULL || id == NULL || len == 0 || len > ST_IOTSAFE_ID_MAX)
        return ST_E_ARG;
    memset(ref, 0, sizeof(*ref));
    ref->by_label = false;
    ref->len = (uint8_t)len;
    memcpy(ref->bytes, id, len);
    return ST_OK;
}

int st_iotsafe_ref_label(struct st_iotsafe_ref *ref, const void *label, size_t len)
{
    if (ref == NULL || label == NULL || len == 0 || len > ST_IOTSAFE_LABEL_MAX)
        return ST_E_ARG;
    memset(ref, 0, sizeof(*ref));
    ref->by_label = true;
    ref->len = (uint8_t)len;
    memcpy(ref->bytes, label, len);
    return ST_OK;
}

size_t st_ios_data_max(const struct st_iotsafe *ios, bool has_le)
{
    size_t m = st_sim_max_apdu(ios->sim);
    size_t overhead = 5 + (has_le ? 1 : 0); /* CLA INS P1 P2 Lc [Le] */
    if (m <= overhead)
        return 0;
    m -= overhead;
    return m > 255 ? 255 : m;
}

int st_ios_unsupported(struct st_iotsafe *ios, const char *why)
{
    return st_ios_fail(ios, ST_E_UNSUPPORTED, why);
}

int st_ios_fail(struct st_iotsafe *ios, int code, const char *why)
{
    st_sim_set_detail(ios->sim, why);
    return code;
}

int st_ios_close_session(struct st_iotsafe *ios, uint8_t ins_init, uint8_t session)
{
    uint16_t keep = st_sim_last_sw(ios->sim);
    uint16_t sw;
    int rc = st_ios_exchange(ios, ins_init, P1_SESSION_CLOSE, session, NULL, 0, 0, NULL, NULL, &sw);
    ios->sim->last_sw = keep;
    /* Card answers (any SW, even stray data) are ignored; a lost link is not. */
    return (rc <= -200 && rc > -300) ? rc : ST_OK;
}

void st_ios_wipe(void *p, size_t n)
{
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n-- > 0)
        *v++ = 0;
}
