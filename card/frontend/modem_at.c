/*
 * The AT engine of the modem emulator: what a cellular module's command
 * interpreter does with the SIM (3GPP TS 27.007 §8.17 +CSIM, §8.43 +CCHC,
 * §8.45 +CCHO, §8.46 +CGLA), with the reply framing real modules use
 * (V.250: "\r\n<info>\r\n" then "\r\nOK\r\n"). No terminal here: the pty
 * front end and the fuzzer feed bytes in and collect the output.
 *
 * The SIM behind a module talks T=0, so every APDU goes to the card in T=0
 * style (case 4 answered with 61xx, reference §1 and §8 rule 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_parse.h"
#include "fe_internal.h"
#include "st_hex.h"
#include "st_log.h"

/* Channels 1..3 of the card can be handed out to +CCHO sessions (IoT.04 D6). */
#define MAX_SESSIONS 3
/*
 * Session ids are opaque to clients (27.007). Starting far from the channel
 * numbers makes a client that confuses the two fail visibly.
 */
#define FIRST_SESSION_ID 17
#define LAST_SESSION_ID 65535

struct session {
    bool open;
    uint8_t channel;
    unsigned long id;
};

struct st_modem {
    st_card *card;
    struct st_modem_config cfg;
    st_modem_write_fn out;
    void *out_ctx;
    struct st_modem_lines lines;
    struct st_modem_cmd cmd; /* scratch, too big for comfort on the stack */
    bool echo;               /* ATE1 is the power-on default of real modules */
    unsigned cmee;           /* +CMEE: 0 ERROR only, 1 numeric, 2 verbose */
    unsigned long replies;
    unsigned long next_id;
    struct session sess[MAX_SESSIONS];
};

static void put(st_modem *m, const char *s, size_t n)
{
    if (n > 0)
        m->out(m->out_ctx, s, n);
}

static void puts_(st_modem *m, const char *s)
{
    put(m, s, strlen(s));
}

/* Ends every command: the final result code, then an optional URC. */
static void final(st_modem *m, const char *code)
{
    puts_(m, "\r\n");
    puts_(m, code);
    puts_(m, "\r\n");
    m->replies++;
    if (m->cfg.urc_every > 0 && m->replies % m->cfg.urc_every == 0) {
        /* An unsolicited result code between replies, as a registering module sends. */
        puts_(m, "\r\n+CREG: 1\r\n");
    }
}

static void ok(st_modem *m)
{
    final(m, "OK");
}

static const char *cme_text(int code)
{
    switch (code) {
    case ST_MODEM_CME_NOT_ALLOWED:
        return "operation not allowed";
    case ST_MODEM_CME_NOT_SUPPORTED:
        return "operation not supported";
    case ST_MODEM_CME_SIM_FAILURE:
        return "SIM failure";
    case ST_MODEM_CME_INVALID_INDEX:
        return "invalid index";
    case ST_MODEM_CME_NOT_FOUND:
        return "not found";
    case ST_MODEM_CME_INCORRECT_PARAMS:
        return "incorrect parameters";
    default:
        return "unknown";
    }
}

static void cme_error(st_modem *m, int code)
{
    char buf[64];
    if (m->cmee == 0) {
        final(m, "ERROR");
        return;
    }
    if (m->cmee == 2)
        snprintf(buf, sizeof(buf), "+CME ERROR: %s", cme_text(code));
    else
        snprintf(buf, sizeof(buf), "+CME ERROR: %d", code);
    final(m, buf);
}

/* "\r\n<prefix>: <len>,"<HEX>"\r\n" then OK. */
static void apdu_reply(st_modem *m, const char *prefix, const uint8_t *r, size_t rlen)
{
    char hex[2 * ST_RAPDU_MAX + 1];
    char line[sizeof(hex) + 32];
    st_hex_encode(r, rlen, hex);
    int n = snprintf(line, sizeof(line), "\r\n%s: %zu,\"%s\"\r\n", prefix, 2 * rlen, hex);
    if (n > 0)
        put(m, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    ok(m);
}

static size_t transmit(st_modem *m, const uint8_t *c, size_t n, uint8_t *r)
{
    return st_fe_transmit(m->card, true, c, n, r);
}

static struct session *find_session(st_modem *m, unsigned long id)
{
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (m->sess[i].open && m->sess[i].id == id)
            return &m->sess[i];
    return NULL;
}

static bool channel_owned(const st_modem *m, uint8_t ch)
{
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (m->sess[i].open && m->sess[i].channel == ch)
            return true;
    return false;
}

/* Logical channel of a CLA (first interindustry 0..3, further 4..19). */
static uint8_t cla_channel(uint8_t cla)
{
    return (cla & 0x40) ? (uint8_t)(4 + (cla & 0x0F)) : (uint8_t)(cla & 0x03);
}

static void do_csim(st_modem *m, const uint8_t *apdu, size_t n)
{
    uint8_t r[ST_RAPDU_MAX];
    if (m->cfg.csim_no_channels && n >= 2) {
        /*
         * Modules that manage channels themselves (only +CCHO/+CGLA) refuse
         * MANAGE CHANNEL and foreign channels inside +CSIM. Emulated so that
         * clients can be tested against them (issue 3).
         */
        uint8_t ch = cla_channel(apdu[0]);
        if (apdu[1] == 0x70) {
            static const uint8_t sw[] = {0x6D, 0x00};
            apdu_reply(m, "+CSIM", sw, 2);
            return;
        }
        if (ch != 0 && !channel_owned(m, ch)) {
            static const uint8_t sw[] = {0x68, 0x81};
            apdu_reply(m, "+CSIM", sw, 2);
            return;
        }
    }
    size_t rlen = transmit(m, apdu, n, r);
    apdu_reply(m, "+CSIM", r, rlen);
}

static void do_ccho(st_modem *m, const uint8_t *aid, size_t aid_len)
{
    struct session *s = NULL;
    for (size_t i = 0; i < MAX_SESSIONS && s == NULL; i++)
        if (!m->sess[i].open)
            s = &m->sess[i];
    if (s == NULL) {
        cme_error(m, ST_MODEM_CME_NOT_ALLOWED);
        return;
    }
    /* MANAGE CHANNEL open (case 2: the card names the channel). */
    static const uint8_t open_ch[] = {0x00, 0x70, 0x00, 0x00, 0x01};
    uint8_t r[ST_RAPDU_MAX];
    size_t rlen = transmit(m, open_ch, sizeof(open_ch), r);
    if (rlen != 3 || r[1] != 0x90 || r[2] != 0x00 || r[0] == 0 || r[0] > 19) {
        st_debug("modem: +CCHO: MANAGE CHANNEL failed");
        cme_error(m, ST_MODEM_CME_NOT_ALLOWED);
        return;
    }
    uint8_t ch = r[0];
    uint8_t sel[5 + ST_AID_MAX];
    sel[0] = ch < 4 ? ch : (uint8_t)(0x40 | (ch - 4));
    sel[1] = 0xA4;
    sel[2] = 0x04;
    sel[3] = 0x00;
    sel[4] = (uint8_t)aid_len;
    memcpy(sel + 5, aid, aid_len);
    rlen = transmit(m, sel, 5 + aid_len, r);
    uint8_t sw1 = rlen >= 2 ? r[rlen - 2] : 0;
    if (rlen < 2 || !((sw1 == 0x90 && r[rlen - 1] == 0x00) || sw1 == 0x61)) {
        /* Unknown AID: give the channel back, as a module would. */
        uint8_t close_ch[] = {0x00, 0x70, 0x80, ch};
        transmit(m, close_ch, sizeof(close_ch), r);
        cme_error(m, ST_MODEM_CME_NOT_FOUND);
        return;
    }
    s->open = true;
    s->channel = ch;
    s->id = m->next_id;
    do {
        m->next_id = m->next_id >= LAST_SESSION_ID ? FIRST_SESSION_ID : m->next_id + 1;
    } while (find_session(m, m->next_id) != NULL);
    char line[48];
    int n = snprintf(line, sizeof(line), "\r\n+CCHO: %lu\r\n", s->id);
    put(m, line, (size_t)n);
    ok(m);
}

static void do_cgla(st_modem *m, unsigned long id, uint8_t *apdu, size_t n)
{
    struct session *s = find_session(m, id);
    if (s == NULL) {
        cme_error(m, ST_MODEM_CME_INVALID_INDEX);
        return;
    }
    /*
     * The module supplies the channel (clients send CLA 00, reference §5):
     * keep the class (0x0X interindustry / 0x8X proprietary), replace the
     * channel bits.
     */
    uint8_t ch = s->channel;
    if (ch < 4)
        apdu[0] = (uint8_t)((apdu[0] & 0x80) | (apdu[0] & 0x40 ? 0 : apdu[0] & 0x3C) | ch);
    else
        apdu[0] = (uint8_t)((apdu[0] & 0x80) | 0x40 | (ch - 4));
    uint8_t r[ST_RAPDU_MAX];
    size_t rlen = transmit(m, apdu, n, r);
    apdu_reply(m, "+CGLA", r, rlen);
}

static void do_cchc(st_modem *m, unsigned long id)
{
    struct session *s = find_session(m, id);
    if (s == NULL) {
        cme_error(m, ST_MODEM_CME_INVALID_INDEX);
        return;
    }
    uint8_t close_ch[] = {0x00, 0x70, 0x80, s->channel};
    uint8_t r[ST_RAPDU_MAX];
    transmit(m, close_ch, sizeof(close_ch), r);
    s->open = false;
    ok(m);
}

static void execute(st_modem *m, struct st_modem_cmd *c)
{
    switch (c->kind) {
    case ST_MODEM_CMD_UNKNOWN:
        final(m, "ERROR");
        return;
    case ST_MODEM_CMD_BAD:
        cme_error(m, c->cme);
        return;
    case ST_MODEM_CMD_PLAIN:
    case ST_MODEM_CMD_TEST:
        ok(m);
        return;
    case ST_MODEM_CMD_ECHO:
        m->echo = c->num != 0;
        ok(m);
        return;
    case ST_MODEM_CMD_INFO:
        puts_(m, "\r\nsimtrust simtrust-card virtual modem (IoT SAFE UICC)\r\n");
        ok(m);
        return;
    case ST_MODEM_CMD_CMEE:
        m->cmee = (unsigned)c->num;
        ok(m);
        return;
    case ST_MODEM_CMD_CSIM:
        do_csim(m, c->data, c->data_len);
        return;
    case ST_MODEM_CMD_CCHO:
        do_ccho(m, c->data, c->data_len);
        return;
    case ST_MODEM_CMD_CGLA:
        do_cgla(m, c->num, c->data, c->data_len);
        return;
    case ST_MODEM_CMD_CCHC:
        do_cchc(m, c->num);
        return;
    }
    final(m, "ERROR");
}

st_modem *st_modem_new(st_card *card, const struct st_modem_config *cfg, st_modem_write_fn out,
                       void *out_ctx)
{
    st_modem *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->card = card;
    m->cfg = *cfg;
    m->cfg.link = NULL; /* not ours to keep */
    if (m->cfg.max_line == 0)
        m->cfg.max_line = ST_MODEM_LINE_DEFAULT;
    if (st_modem_lines_init(&m->lines, m->cfg.max_line) != 0) {
        free(m);
        return NULL;
    }
    m->out = out;
    m->out_ctx = out_ctx;
    m->echo = true;
    m->cmee = 1; /* numeric +CME ERROR codes: what the clients parse */
    m->next_id = FIRST_SESSION_ID;
    return m;
}

void st_modem_input(st_modem *m, const uint8_t *in, size_t n)
{
    while (n > 0) {
        enum st_modem_line_event ev;
        size_t used = st_modem_lines_feed(&m->lines, in, n, &ev);
        in += used;
        n -= used;
        if (ev == ST_MODEM_LINE_TOO_LONG) {
            st_debug("modem: command line longer than %zu bytes discarded", m->lines.max);
            final(m, "ERROR");
        } else if (ev == ST_MODEM_LINE_READY) {
            if (m->echo) {
                put(m, m->lines.buf, m->lines.len);
                puts_(m, "\r");
            }
            st_modem_parse(m->lines.buf, m->lines.len, &m->cmd);
            execute(m, &m->cmd);
        }
    }
}

void st_modem_free(st_modem *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        if (m->sess[i].open) {
            uint8_t close_ch[] = {0x00, 0x70, 0x80, m->sess[i].channel};
            uint8_t r[ST_RAPDU_MAX];
            transmit(m, close_ch, sizeof(close_ch), r);
        }
    }
    st_modem_lines_free(&m->lines);
    free(m);
}
