/*
 * AT modem transport (lib/transport/at*.c, IoT.04 Annex B.2.1 case A):
 *  - the reply parser on its own (table of modem quirks);
 *  - a fake modem on a pty pair: echo that ATE0 does not stop, URCs
 *    between replies, unquoted and lower-case hex, "\n"-only line ends,
 *    ERROR / +CME ERROR, garbage and binary junk, a silent line, a hang-up,
 *    AT+CCHO/CGLA/CCHC command lines and the fallback to them;
 *  - simtrust-card's modem emulator: echo on and off, --urc-every 1,
 *    --max-line 255, --csim-no-channels, a signature, the card killed.
 * Raw transmit() only here; tests/lib/test_transport_e2e.c runs the IoT
 * SAFE client over the same transports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "at_reply.h"
#include "simtrust/at.h"
#include "simtrust/error.h"
#include "tr_apdu.h"
#include "tr_support.h"

static struct st_at_options fast_opts(void)
{
    struct st_at_options o;
    memset(&o, 0, sizeof(o));
    o.timeout_ms = 2000;
    o.probe_timeout_ms = 300;
    o.probe_retries = 3;
    return o;
}

/* ---- reply parser ---- */

struct reply_case {
    const char *name;
    enum st_at_expect expect;
    const char *in;
    int status;
    const char *data_hex; /* expected R-APDU, NULL: none checked */
    int cme;
};

static const struct reply_case reply_cases[] = {
    {"plain", ST_AT_EXPECT_CSIM, "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n", ST_OK, "9000", -1},
    {"echo + urcs", ST_AT_EXPECT_CSIM,
     "AT+CSIM=10,\"0070000001\"\r\r\n+CREG: 1\r\n\r\nRING\r\n+CSIM: 6,\"019000\"\r\n"
     "+CEREG: 2,\"1A2B\",\"01C2D3E4\",7\r\nNO CARRIER\r\n\r\nOK\r\n",
     ST_OK, "019000", -1},
    {"no quotes, lower case", ST_AT_EXPECT_CSIM, "+CSIM: 8,0102a0ff\r\nOK\r\n", ST_OK, "0102A0FF",
     -1},
    {"LF only", ST_AT_EXPECT_CSIM, "\n+CSIM: 4,\"6A82\"\n\nOK\n", ST_OK, "6A82", -1},
    {"CR only", ST_AT_EXPECT_CSIM, "\r+CSIM: 4,\"6A82\"\r\rOK\r", ST_OK, "6A82", -1},
    {"CR CR LF, spaces", ST_AT_EXPECT_CSIM, "\r\r\n+CSIM:  4 , \"9000\" \r\r\n  OK  \r\r\n", ST_OK,
     "9000", -1},
    {"length in bytes", ST_AT_EXPECT_CSIM, "+CSIM: 2,\"9000\"\r\nOK\r\n", ST_OK, "9000", -1},
    {"lower-case prefix", ST_AT_EXPECT_CSIM, "+csim: 4,\"9000\"\r\nok\r\n", ST_OK, "9000", -1},
    {"cgla", ST_AT_EXPECT_CGLA, "+CGLA: 6,\"AB9000\"\r\nOK\r\n", ST_OK, "AB9000", -1},
    {"+CSIM when +CGLA expected", ST_AT_EXPECT_CGLA, "+CSIM: 4,\"9000\"\r\nOK\r\n", ST_E_PARSE,
     NULL, -1},
    {"ERROR", ST_AT_EXPECT_CSIM, "\r\nERROR\r\n", ST_E_MODEM, NULL, -1},
    {"CME numeric", ST_AT_EXPECT_CSIM, "\r\n+CME ERROR: 10\r\n", ST_E_MODEM, NULL, 10},
    {"CME verbose", ST_AT_EXPECT_CSIM, "\r\n+CME ERROR: SIM not inserted\r\n", ST_E_MODEM, NULL,
     10},
    {"CME unknown text", ST_AT_EXPECT_CSIM, "+CME ERROR: flux capacitor\r\n", ST_E_MODEM, NULL, -1},
    {"CMS", ST_AT_EXPECT_NONE, "+CMS ERROR: 500\r\n", ST_E_MODEM, NULL, 500},
    {"OK without info", ST_AT_EXPECT_CSIM, "\r\nOK\r\n", ST_E_PARSE, NULL, -1},
    {"bad hex", ST_AT_EXPECT_CSIM, "+CSIM: 4,\"9G00\"\r\nOK\r\n", ST_E_PARSE, NULL, -1},
    {"odd digits", ST_AT_EXPECT_CSIM, "+CSIM: 3,\"900\"\r\nOK\r\n", ST_E_PARSE, NULL, -1},
    {"no SW", ST_AT_EXPECT_CSIM, "+CSIM: 2,\"90\"\r\nOK\r\n", ST_E_PARSE, NULL, -1},
    {"length mismatch", ST_AT_EXPECT_CSIM, "+CSIM: 6,\"9000\"\r\nOK\r\n", ST_E_PARSE, NULL, -1},
    {"unclosed quote", ST_AT_EXPECT_CSIM, "+CSIM: 4,\"9000\r\nOK\r\n", ST_E_PARSE, NULL, -1},
    {"two info lines", ST_AT_EXPECT_CSIM, "+CSIM: 4,\"9000\"\r\n+CSIM: 4,\"6A82\"\r\nOK\r\n",
     ST_E_PARSE, NULL, -1},
    {"junk then OK", ST_AT_EXPECT_CSIM, "\r\n@@@\r\n\x01\x02\x03\r\n+CSIM: 4,\"9000\"\r\nOK\r\n",
     ST_OK, "9000", -1},
    {"junk only then OK", ST_AT_EXPECT_CSIM, "hello\r\nworld\r\nOK\r\n", ST_E_PARSE, NULL, -1},
    {"ccho prefixed", ST_AT_EXPECT_CCHO, "\r\n+CCHO: 17\r\n\r\nOK\r\n", ST_OK, NULL, -1},
    {"ccho bare", ST_AT_EXPECT_CCHO, "\r\n3\r\n\r\nOK\r\n", ST_OK, NULL, -1},
    {"ccho quoted", ST_AT_EXPECT_CCHO, "+CCHO: \"4\"\r\nOK\r\n", ST_OK, NULL, -1},
    {"ccho too big", ST_AT_EXPECT_CCHO, "+CCHO: 99999999999\r\nOK\r\n", ST_E_PARSE, NULL, -1},
    {"plain OK", ST_AT_EXPECT_NONE, "AT\r\r\nOK\r\n", ST_OK, NULL, -1},
    {"info when none expected", ST_AT_EXPECT_NONE, "+CSIM: 4,\"9000\"\r\nOK\r\n", ST_OK, NULL, -1},
};

static void feed_all(struct st_at_reply *r, const char *in, size_t n, bool bytewise)
{
    size_t off = 0;
    while (off < n && !r->done) {
        size_t chunk = bytewise ? 1 : n - off;
        off += st_at_reply_feed(r, (const uint8_t *)in + off, chunk);
    }
}

static void test_reply_cases(void **state)
{
    (void)state;
    static struct st_at_reply r; /* 1 KB: not on the stack of a test */
    for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        const struct reply_case *c = &reply_cases[i];
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            st_at_reply_init(&r, c->expect);
            feed_all(&r, c->in, strlen(c->in), bytewise);
            if (!r.done || r.status != c->status || r.cme != c->cme)
                fail_msg("%s (%s): done %d status %d cme %d", c->name,
                         bytewise ? "bytewise" : "whole", r.done, r.status, r.cme);
            if (c->data_hex != NULL) {
                uint8_t want[64];
                long n = trs_unhex(c->data_hex, want, sizeof(want));
                assert_int_equal(r.data_len, (size_t)n);
                assert_memory_equal(r.data, want, (size_t)n);
            }
        }
    }
    st_at_reply_init(&r, ST_AT_EXPECT_CCHO);
    feed_all(&r, "\r\n+CCHO: 17\r\n\r\nOK\r\n", 20, false);
    assert_int_equal(r.session, 17);
}

static void test_reply_stops_at_final(void **state)
{
    (void)state;
    static struct st_at_reply r;
    const char *in = "+CSIM: 4,\"9000\"\r\nOK\r\n+CREG: 1\r\n";
    st_at_reply_init(&r, ST_AT_EXPECT_CSIM);
    size_t used = st_at_reply_feed(&r, (const uint8_t *)in, strlen(in));
    assert_true(r.done);
    assert_int_equal(used, strlen("+CSIM: 4,\"9000\"\r\nOK\r"));
}

static void test_reply_limits(void **state)
{
    (void)state;
    static struct st_at_reply r;
    static char big[4096];

    /* A babbling line ends the reply with a parse error, without any OK. */
    st_at_reply_init(&r, ST_AT_EXPECT_CSIM);
    for (int i = 0; i <= ST_AT_REPLY_GARBAGE_MAX && !r.done; i++)
        st_at_reply_feed(&r, (const uint8_t *)"garbage\r\n", 9);
    assert_true(r.done);
    assert_int_equal(r.status, ST_E_PARSE);

    /* An overlong line is dropped (garbage), what follows still parses. */
    memset(big, 'A', sizeof(big));
    st_at_reply_init(&r, ST_AT_EXPECT_CSIM);
    st_at_reply_feed(&r, (const uint8_t *)big, sizeof(big));
    const char *rest = "\r\n+CSIM: 4,\"9000\"\r\nOK\r\n";
    st_at_reply_feed(&r, (const uint8_t *)rest, strlen(rest));
    assert_true(r.done);
    assert_int_equal(r.status, ST_OK);
    assert_int_equal(r.garbage, 1);

    /* An R-APDU longer than 258 bytes cannot be a short response. */
    int n = snprintf(big, sizeof(big), "+CSIM: %d,\"", 2 * (ST_RESPONSE_MAX + 1));
    for (int i = 0; i < 2 * (ST_RESPONSE_MAX + 1); i++)
        big[n++] = '0';
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\"\r\nOK\r\n");
    st_at_reply_init(&r, ST_AT_EXPECT_CSIM);
    st_at_reply_feed(&r, (const uint8_t *)big, (size_t)n);
    assert_true(r.done);
    assert_int_equal(r.status, ST_E_PARSE);

    /* The largest one fits. */
    n = snprintf(big, sizeof(big), "+CSIM: %d,\"", 2 * ST_RESPONSE_MAX);
    for (int i = 0; i < 2 * ST_RESPONSE_MAX; i++)
        big[n++] = 'f';
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\"\r\nOK\r\n");
    st_at_reply_init(&r, ST_AT_EXPECT_CSIM);
    st_at_reply_feed(&r, (const uint8_t *)big, (size_t)n);
    assert_int_equal(r.status, ST_OK);
    assert_int_equal(r.data_len, ST_RESPONSE_MAX);
}

/* ---- fake modems ---- */

/* What a scripted fake modem answers (NULL: stays silent). */
struct script {
    const char *csim; /* any AT+CSIM */
    const char *mc;   /* AT+CSIM of a MANAGE CHANNEL (0070...), else csim */
    const char *ccho;
    const char *cgla;
    bool hang_up_on_csim;
};

static void scripted(struct fake_modem *fm, const char *line)
{
    const struct script *s = fm->arg;
    if (strncmp(line, "AT+CSIM=", 8) == 0) {
        if (s->hang_up_on_csim) {
            close(fm->master);
            fm->master = -1;
            fm->stop = true;
            return;
        }
        const char *p = strchr(line, '"');
        const char *r =
            (s->mc != NULL && p != NULL && strncmp(p + 1, "0070", 4) == 0) ? s->mc : s->csim;
        if (r != NULL)
            fm_say(fm, r);
    } else if (strncmp(line, "AT+CCHO=", 8) == 0) {
        if (s->ccho != NULL)
            fm_say(fm, s->ccho);
    } else if (strncmp(line, "AT+CGLA=", 8) == 0) {
        if (s->cgla != NULL)
            fm_say(fm, s->cgla);
    } else {
        /* AT, ATE0, AT+CMEE=1, AT+CCHC=n */
        fm_say(fm, "\r\nOK\r\n");
    }
}

struct fake_run {
    struct fake_modem fm;
    struct st_transport t;
};

static void fake_open(struct fake_run *f, const struct script *s, bool echo,
                      const struct st_at_options *o)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(fm_start(&f->fm, scripted, (void *)s, echo), 0);
    char err[200] = "";
    int st = st_at_open(&f->t, f->fm.slave, o, err, sizeof(err));
    if (st != ST_OK)
        fail_msg("st_at_open: %d %s", st, err);
}

static void fake_close(struct fake_run *f)
{
    f->t.ops->close(f->t.ctx);
    fm_stop(&f->fm);
}

static void test_fake_quirks(void **state)
{
    (void)state;
    /* Echo that ATE0 does not stop, URCs on both sides, lower case, no quotes. */
    static const struct script s = {
        .csim = "\r\n+CREG: 1\r\nRING\r\n+csim: 8,0102a0ff\n\r\n+CEREG: 2,\"1A2B\"\r\nOK\r\n"
                "+CMTI: \"SM\",3\r\n",
    };
    static struct fake_run f;
    struct st_at_options o = fast_opts();
    fake_open(&f, &s, true, &o);
    uint8_t r[ST_RESPONSE_MAX];
    size_t rlen;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tx(&f.t, TRS_SELECT_BASIC, r, &rlen), ST_OK);
        assert_int_equal(rlen, 4);
        assert_int_equal(r[3], 0xFF);
    }
    char line[600];
    fm_find(&f.fm, "AT+CSIM=", line, sizeof(line));
    assert_string_equal(line, "AT+CSIM=24,\"" TRS_SELECT_BASIC "\"");
    fm_line(&f.fm, 0, line, sizeof(line));
    assert_string_equal(line, "AT");
    fm_find(&f.fm, "ATE0", line, sizeof(line));
    assert_string_equal(line, "ATE0");
    fake_close(&f);
}

static void test_fake_errors(void **state)
{
    (void)state;
    static struct fake_run f;
    uint8_t r[ST_RESPONSE_MAX];
    size_t rlen;
    struct st_at_options o = fast_opts();

    static const struct script cme10 = {.csim = "\r\n+CME ERROR: 10\r\n"};
    fake_open(&f, &cme10, false, &o);
    assert_int_equal(tx(&f.t, TRS_SELECT_BASIC, r, &rlen), ST_E_MODEM);
    assert_int_equal(st_at_last_cme(&f.t), 10);
    assert_non_null(strstr(st_at_last_error(&f.t), "+CME ERROR: 10"));
    fake_close(&f);

    static const struct script error = {.csim = "\r\nERROR\r\n"};
    fake_open(&f, &error, false, &o);
    assert_int_equal(tx(&f.t, TRS_SELECT_BASIC, r, &rlen), ST_E_MODEM);
    assert_int_equal(st_at_last_cme(&f.t), -1);
    fake_close(&f);
}

static void test_fake_garbage(void **state)
{
    (void)state;
    static struct fake_run f;
    uint8_t r[ST_RESPONSE_MAX];
    size_t rlen;
    struct st_at_options o = fast_opts();

    /* Junk lines, then OK: no answer to use. */
    static const struct script junk_ok = {.csim = "\r\n@@@\r\n\x01\x02\x03\r\nOK\r\n"};
    fake_open(&f, &junk_ok, false, &o);
    assert_int_equal(tx(&f.t, TRS_SELECT_BASIC, r, &rlen), ST_E_PARSE);
    fake_close(&f);

    /* Malformed answers. */
    static const struct script bad_hex = {.csim = "\r\n+CSIM: 4,\"9G00\"\r\n\r\nOK\r\n"};
    fake_open(&f, &bad_hex, false, &o);
    assert_int_equal(tx(&f.t, TRS_SELECT_BASIC, r, &rlen), ST_E_PARSE);
    fake_close(&f);

    /* A babbling line: a parse error well before the 2 s timeout. */
    static char flood[64 * 12 + 1];
    flood[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(flood, "!junk$%@#\r\n"); /* not URC-looking: '!' */
    static const struct script babble = {.csim = flood};
    fake_open(&f, &babble, false, &o);
    long long t0 = trs_now_ms();
    assert_int_equal(tx(&f.t, TRS_SELECT_BASIC, r, &rlen), ST_E_PARSE);
    assert_true(trs_now_ms() - t0 < 1500);
    fake_close(&f);

    /* Binary junk with NULs and line ends: any clean error, no crash. */
    static char bin[3000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(bin) - 1; i++) {
        x = x * 1103515245u + 12345u;
        bin[i] = (char)(x >> 16);
        if (bin[i] == '\0')
            bin[i] = '\n'; /* fm_say() stops at NUL */
    }
    static const struct script binary = {.csim = bin};
    o.timeout_ms = 500;
    fake_open(&f, &binary, false, &o);
    int st = tx(&f.t, TRS_SELECT_BASIC, r, &rlen);
    assert_true(st == ST_E_PARSE || st == ST_E_MODEM || st == ST_E_TIMEOUT);
    fake_close(&f);
}

static void test_fake_silent_reply(void **state)
{
    (void)state;
    static struct fake_run f;
    static const struct script silent = {.csim = NULL};
    struct st_at_options o = fast_opts();
    o.timeout_ms = 300;
    fake_open(&f, &silent, false, &o);
    uint8_t r[ST_RESPONSE_MAX];
    size_t rlen;
    long long t0 = trs_now_ms();
    assert_int_equal(tx(&f.t, TRS_SELECT_BASIC, r, &rlen), ST_E_TIMEOUT);
    long long dt = trs_now_ms() - t0;
    assert_true(dt >= 290 && dt < 2000);
    fake_close(&f);
}

static void test_silent_line(void **state)
{
    (void)state;
    /* A pty nobody answers on: open gives up after the probes. */
    char slave[64];
    int master = trs_pty(slave, sizeof(slave));
    assert_true(master >= 0);
    struct st_at_options o = fast_opts();
    o.probe_timeout_ms = 150;
    o.probe_retries = 3;
    struct st_transport t = {0};
    char err[200] = "";
    long long t0 = trs_now_ms();
    assert_int_equal(st_at_open(&t, slave, &o, err, sizeof(err)), ST_E_TIMEOUT);
    long long dt = trs_now_ms() - t0;
    assert_true(dt >= 3 * 150 && dt < 4000);
    assert_non_null(strstr(err, "AT"));
    assert_null(t.ops); /* untouched on failure */
    close(master);
}

static void test_fake_hangup(void **state)
{
    (void)state;
    static struct fake_run f;
    static const struct script hang = {.hang_up_on_csim = true};
    struct st_at_options o = fast_opts();
    fake_open(&f, &hang, false, &o);
    uint8_t r[ST_RESPONSE_MAX];
    size_t rlen;
    assert_int_equal(tx(&f.t, TRS_SELECT_BASIC, r, &rlen), ST_E_LINK_CLOSED);
    fake_close(&f);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct st_transport t = {0};
    char err[200];
    struct st_at_options o = fast_opts();
    assert_int_equal(st_at_open(&t, "/nonexistent/ttyUSB9", &o, err, sizeof(err)), ST_E_NO_READER);
    assert_int_equal(st_at_open(&t, "/dev/null@12345", &o, err, sizeof(err)), ST_E_ARG);
    assert_int_equal(st_at_open(&t, "", &o, err, sizeof(err)), ST_E_ARG);
    assert_int_equal(st_at_open(&t, "@115200", &o, err, sizeof(err)), ST_E_ARG);
    o.max_line = 10;
    assert_int_equal(st_at_open(&t, "/dev/null", &o, err, sizeof(err)), ST_E_ARG);
    o = fast_opts();
    o.channels = (enum st_at_channel_mode)7;
    assert_int_equal(st_at_open(&t, "/dev/null", &o, err, sizeof(err)), ST_E_ARG);
    assert_int_equal(st_at_open(NULL, "/dev/null", &o, err, sizeof(err)), ST_E_ARG);
    assert_null(t.ops);
    /* Other transports have no AT details. */
    assert_int_equal(st_at_last_cme(&t), -1);
    assert_string_equal(st_at_last_error(&t), "");
}

static void test_fake_line_limit(void **state)
{
    (void)state;
    static struct fake_run f;
    static const struct script ok = {.csim = "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n"};
    struct st_at_options o = fast_opts();
    uint8_t r[ST_RESPONSE_MAX];
    size_t rlen;
    static char hex[2 * ST_SHORT_APDU_MAX + 1];

    /* u-blox default: 255 characters. AT+CSIM=240,"<240>" is 254. */
    o.channels = ST_AT_CHANNELS_CSIM;
    fake_open(&f, &ok, false, &o);
    assert_int_equal(f.t.max_apdu, 120);
    memset(hex, '0', 2 * 121);
    hex[2 * 121] = '\0';
    unsigned before = fm_count(&f.fm);
    assert_int_equal(tx(&f.t, hex, r, &rlen), ST_E_ARG); /* refused, not cut */
    assert_int_equal(fm_count(&f.fm), before);
    hex[2 * 120] = '\0';
    assert_int_equal(tx(&f.t, hex, r, &rlen), ST_OK);
    char line[600];
    fm_find(&f.fm, "AT+CSIM=", line, sizeof(line));
    assert_int_equal(strlen(line), 254);
    fake_close(&f);

    /* AT+CGLA=<id up to 10 digits>,... may be needed: smaller. */
    o.channels = ST_AT_CHANNELS_AUTO;
    fake_open(&f, &ok, false, &o);
    assert_int_equal(f.t.max_apdu, 115);
    fake_close(&f);

    o.max_line = ST_AT_MAX_MAX_LINE;
    fake_open(&f, &ok, false, &o);
    assert_int_equal(f.t.max_apdu, ST_SHORT_APDU_MAX);
    fake_close(&f);
}

static void test_fake_cgla(void **state)
{
    (void)state;
    static struct fake_run f;
    static const struct script s = {
        .csim = "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n",
        .ccho = "\r\n+CCHO: 1234567\r\n\r\nOK\r\n",
        .cgla = "\r\n+CGLA: 6,\"AB9000\"\r\n\r\nOK\r\n",
    };
    struct st_at_options o = fast_opts();
    o.channels = ST_AT_CHANNELS_CGLA;
    fake_open(&f, &s, false, &o);
    assert_true(st_at_uses_cgla(&f.t));
    uint8_t ch = 0;
    assert_int_equal(f.t.ops->open_channel(f.t.ctx, trs_gsma_aid, sizeof(trs_gsma_aid), &ch),
                     ST_OK);
    assert_int_equal(ch, 1);
    char line[600];
    fm_find(&f.fm, "AT+CCHO=", line, sizeof(line));
    assert_string_equal(line, "AT+CCHO=\"A0000005590010\"");

    uint8_t r[ST_RESPONSE_MAX];
    /* CLA 81 goes out as 80: the module supplies the channel. */
    assert_int_equal(tx_sw(&f.t, "81CB000000", 0x9000, r), 1);
    fm_find(&f.fm, "AT+CGLA=", line, sizeof(line));
    assert_string_equal(line, "AT+CGLA=1234567,10,\"80CB000000\"");
    /* Basic channel still through AT+CSIM. */
    tx_sw(&f.t, "80CB000000", 0x9000, r);
    fm_find(&f.fm, "AT+CSIM=", line, sizeof(line));
    assert_string_equal(line, "AT+CSIM=10,\"80CB000000\"");

    /* A second channel number for a second session. */
    uint8_t ch2 = 0;
    assert_int_equal(f.t.ops->open_channel(f.t.ctx, trs_gsma_aid, sizeof(trs_gsma_aid), &ch2),
                     ST_OK);
    assert_int_equal(ch2, 2);
    assert_int_equal(f.t.ops->close_channel(f.t.ctx, ch2), ST_OK);
    assert_int_equal(f.t.ops->close_channel(f.t.ctx, ch), ST_OK);
    fm_find(&f.fm, "AT+CCHC=", line, sizeof(line));
    assert_string_equal(line, "AT+CCHC=1234567");
    assert_int_equal(f.t.ops->close_channel(f.t.ctx, 0), ST_E_ARG);
    fake_close(&f);
}

static void test_fake_fallback(void **state)
{
    (void)state;
    /* A module that refuses MANAGE CHANNEL in +CSIM (ERROR), and so does the next. */
    static const struct script s = {
        .mc = "\r\nERROR\r\n",
        .csim = "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n",
        .ccho = "\r\n+CCHO: 5\r\n\r\nOK\r\n",
        .cgla = "\r\n+CGLA: 4,\"9000\"\r\n\r\nOK\r\n",
    };
    static struct fake_run f;
    struct st_at_options o = fast_opts();
    fake_open(&f, &s, false, &o);
    assert_false(st_at_uses_cgla(&f.t));
    uint8_t r[ST_RESPONSE_MAX];
    char line[600];

    /* Through transmit(): MANAGE CHANNEL emulated, SELECT opens the +CCHO session. */
    assert_int_equal(tx_sw(&f.t, "0070000001", 0x9000, r), 1);
    assert_int_equal(r[0], 1);
    assert_true(st_at_uses_cgla(&f.t));
    size_t rlen;
    assert_int_equal(tx(&f.t, "81CB000000", r, &rlen), ST_E_STATE); /* no SELECT yet */
    tx_sw(&f.t, TRS_SELECT_CH1, 0x9000, r);
    fm_find(&f.fm, "AT+CCHO=", line, sizeof(line));
    assert_string_equal(line, "AT+CCHO=\"A0000005590010\"");
    tx_sw(&f.t, "81CB000000", 0x9000, r);
    fm_find(&f.fm, "AT+CGLA=", line, sizeof(line));
    assert_string_equal(line, "AT+CGLA=5,10,\"80CB000000\"");
    tx_sw(&f.t, "0070800100", 0x9000, r);
    fm_find(&f.fm, "AT+CCHC=", line, sizeof(line));
    assert_string_equal(line, "AT+CCHC=5");
    /* Closing again, or a channel never opened: 9000 like the card. */
    tx_sw(&f.t, "0070800100", 0x9000, r);
    fake_close(&f);

    /* Through open_channel(): the same fallback. */
    fake_open(&f, &s, false, &o);
    uint8_t ch = 0;
    assert_int_equal(f.t.ops->open_channel(f.t.ctx, trs_gsma_aid, sizeof(trs_gsma_aid), &ch),
                     ST_OK);
    assert_int_equal(ch, 1);
    assert_true(st_at_uses_cgla(&f.t));
    fake_close(&f);

    /* CSIM-only mode does not fall back. */
    o.channels = ST_AT_CHANNELS_CSIM;
    fake_open(&f, &s, false, &o);
    assert_int_equal(f.t.ops->open_channel(f.t.ctx, trs_gsma_aid, sizeof(trs_gsma_aid), &ch),
                     ST_E_MODEM);
    assert_false(st_at_uses_cgla(&f.t));
    fake_close(&f);
}

/* ---- simtrust-card's modem emulator ---- */

struct sim_run {
    struct trs_card card;
    struct st_transport t;
};

/* Starts `serve --modem args...` and opens the transport; false: skip. */
static bool sim_open(struct sim_run *s, const char *const *extra, const struct st_at_options *o)
{
    memset(s, 0, sizeof(*s));
    if (trs_card_bin() == NULL)
        return false;
    const char *args[16] = {"--modem"};
    size_t n = 1;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    if (trs_card_start(&s->card, args, "modem:") != 0)
        fail_msg("simtrust-card serve --modem did not start");
    char err[200] = "";
    int st = st_at_open(&s->t, s->card.ready, o, err, sizeof(err));
    if (st != ST_OK)
        fail_msg("st_at_open %s: %d %s", s->card.ready, st, err);
    return true;
}

static void sim_close(struct sim_run *s)
{
    if (s->t.ops != NULL)
        s->t.ops->close(s->t.ctx);
    int rc = trs_card_stop(&s->card);
    assert_int_equal(rc, 0);
}

static void test_sim_echo_off(void **state)
{
    (void)state;
    static struct sim_run s;
    struct st_at_options o = fast_opts();
    if (!sim_open(&s, NULL, &o))
        skip();
    uint8_t r[ST_RESPONSE_MAX];
    tx_sw(&s.t, TRS_SELECT_BASIC, 0x9000, r);
    trs_check_card(&s.t, 0);
    /* MANAGE CHANNEL through +CSIM, then the same on channel 1. */
    assert_int_equal(tx_sw(&s.t, "0070000001", 0x9000, r), 1);
    assert_int_equal(r[0], 1);
    assert_false(st_at_uses_cgla(&s.t));
    tx_sw(&s.t, TRS_SELECT_CH1, 0x9000, r);
    trs_check_card(&s.t, 1);
    tx_sw(&s.t, "0070800100", 0x9000, r);
    sim_close(&s);
}

static void test_sim_echo_on(void **state)
{
    (void)state;
    static struct sim_run s;
    struct st_at_options o = fast_opts();
    if (!sim_open(&s, NULL, &o))
        skip();
    /* Turn the emulator's echo back on behind the transport's back. */
    int fd = open(s.card.ready, O_RDWR | O_NOCTTY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "ATE1\r", 5), 5);
    usleep(200000);
    close(fd);
    uint8_t r[ST_RESPONSE_MAX];
    tx_sw(&s.t, TRS_SELECT_BASIC, 0x9000, r);
    trs_check_card(&s.t, 0);
    sim_close(&s);
}

static void test_sim_urc(void **state)
{
    (void)state;
    static struct sim_run s;
    struct st_at_options o = fast_opts();
    static const char *const args[] = {"--urc-every", "1", NULL};
    if (!sim_open(&s, args, &o))
        skip();
    uint8_t r[ST_RESPONSE_MAX];
    for (int i = 0; i < 3; i++) {
        tx_sw(&s.t, TRS_SELECT_BASIC, 0x9000, r);
        trs_check_card(&s.t, 0);
    }
    sim_close(&s);
}

static void test_sim_max_line(void **state)
{
    (void)state;
    static struct sim_run s;
    static char hex[2 * ST_SHORT_APDU_MAX + 1];
    static const char *const args[] = {"--max-line", "255", NULL};
    struct st_at_options o = fast_opts();
    if (!sim_open(&s, args, &o))
        skip();
    uint8_t r[ST_RESPONSE_MAX];
    size_t rlen;
    assert_int_equal(s.t.max_apdu, 115);
    tx_sw(&s.t, TRS_SELECT_BASIC, 0x9000, r);
    /* The longest APDU allowed reaches the card (GET DATA with junk: any SW). */
    int k = snprintf(hex, sizeof(hex), "80CB0100%02X", 115 - 5);
    memset(hex + k, 'A', 2 * 110);
    hex[k + 220] = '\0';
    assert_int_equal(tx(&s.t, hex, r, &rlen), ST_OK);
    /* One more byte is refused before it reaches the line. */
    snprintf(hex, sizeof(hex), "80CB0100%02X", 116 - 5);
    memset(hex + k, 'A', 2 * 111);
    hex[k + 222] = '\0';
    assert_int_equal(tx(&s.t, hex, r, &rlen), ST_E_ARG);
    sim_close(&s);

    /* A transport told the wrong limit sends a line the module cannot take. */
    o.max_line = 400;
    o.channels = ST_AT_CHANNELS_CSIM;
    if (!sim_open(&s, args, &o))
        skip();
    k = snprintf(hex, sizeof(hex), "80CB0100%02X", 150);
    memset(hex + k, 'A', 2 * 150);
    hex[k + 300] = '\0';
    assert_int_equal(tx(&s.t, hex, r, &rlen), ST_E_MODEM);
    /* ...and the link is still in step afterwards. */
    tx_sw(&s.t, TRS_SELECT_BASIC, 0x9000, r);
    sim_close(&s);
}

static void test_sim_no_channels(void **state)
{
    (void)state;
    static struct sim_run s;
    static const char *const args[] = {"--csim-no-channels", NULL};
    struct st_at_options o = fast_opts();
    if (!sim_open(&s, args, &o))
        skip();
    uint8_t r[ST_RESPONSE_MAX];
    /* Raw path: MANAGE CHANNEL refused in +CSIM (6D00), emulated over +CCHO. */
    assert_int_equal(tx_sw(&s.t, "0070000001", 0x9000, r), 1);
    unsigned ch = r[0];
    assert_true(st_at_uses_cgla(&s.t));
    char sel[64];
    snprintf(sel, sizeof(sel), "0%uA4040007%s", ch, TRS_AID_HEX);
    tx_sw(&s.t, sel, 0x9000, r);
    trs_check_card(&s.t, ch);
    char close_cmd[16];
    snprintf(close_cmd, sizeof(close_cmd), "007080%02X00", ch);
    tx_sw(&s.t, close_cmd, 0x9000, r);
    /* ops path, twice (sessions are reused by the module). */
    for (int i = 0; i < 2; i++) {
        uint8_t c = 0;
        assert_int_equal(s.t.ops->open_channel(s.t.ctx, trs_gsma_aid, sizeof(trs_gsma_aid), &c),
                         ST_OK);
        trs_check_card(&s.t, c);
        assert_int_equal(s.t.ops->close_channel(s.t.ctx, c), ST_OK);
    }
    /* An AID the card does not have: the module refuses +CCHO. */
    static const uint8_t bogus[] = {0xA0, 0x00, 0x00, 0x00, 0x99};
    uint8_t c = 0;
    assert_int_equal(s.t.ops->open_channel(s.t.ctx, bogus, sizeof(bogus), &c), ST_E_MODEM);
    assert_true(st_at_last_cme(&s.t) >= 0);
    sim_close(&s);

    /* Forced AT+CCHO mode against the same module. */
    o.channels = ST_AT_CHANNELS_CGLA;
    if (!sim_open(&s, args, &o))
        skip();
    uint8_t c2 = 0;
    assert_int_equal(s.t.ops->open_channel(s.t.ctx, trs_gsma_aid, sizeof(trs_gsma_aid), &c2),
                     ST_OK);
    trs_check_card(&s.t, c2);
    sim_close(&s); /* close() closes the session it left open */
}

static void test_sim_sign(void **state)
{
    (void)state;
    static struct sim_run s;
    struct st_at_options o = fast_opts();
    if (!sim_open(&s, NULL, &o))
        skip();
    uint8_t ch = 0;
    assert_int_equal(s.t.ops->open_channel(s.t.ctx, trs_gsma_aid, sizeof(trs_gsma_aid), &ch),
                     ST_OK);
    assert_int_equal(ch, 1);
    uint8_t r[ST_RESPONSE_MAX];
    /* COMPUTE SIGNATURE: init (key 01, pad & sign, SHA-256, ECDSA), update with a digest. */
    tx_sw(&s.t, "812A00010D840101A1010391020001920104", 0x9000, r);
    size_t n = tx_get(&s.t,
                      "812B8001229E20"
                      "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9",
                      r);
    /* 33 00 40 r||s (the card's default form) or 33 40 r||s. */
    assert_int_equal(r[0], 0x33);
    assert_true(n == 67 || n == 66);
    assert_int_equal(s.t.ops->close_channel(s.t.ctx, ch), ST_OK);
    sim_close(&s);
}

static void test_sim_card_killed(void **state)
{
    (void)state;
    static struct sim_run s;
    struct st_at_options o = fast_opts();
    o.timeout_ms = 1000;
    if (!sim_open(&s, NULL, &o))
        skip();
    uint8_t r[ST_RESPONSE_MAX];
    size_t rlen;
    tx_sw(&s.t, TRS_SELECT_BASIC, 0x9000, r);
    trs_card_kill(&s.card, SIGKILL);
    usleep(100000);
    long long t0 = trs_now_ms();
    int st = tx(&s.t, TRS_SELECT_BASIC, r, &rlen);
    assert_true(st == ST_E_LINK_CLOSED || st == ST_E_TIMEOUT);
    assert_true(trs_now_ms() - t0 < 3000);
    s.t.ops->close(s.t.ctx);
    s.t.ops = NULL;
    trs_card_stop(&s.card);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_cases),       cmocka_unit_test(test_reply_stops_at_final),
        cmocka_unit_test(test_reply_limits),      cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_silent_line),       cmocka_unit_test(test_fake_quirks),
        cmocka_unit_test(test_fake_errors),       cmocka_unit_test(test_fake_garbage),
        cmocka_unit_test(test_fake_silent_reply), cmocka_unit_test(test_fake_hangup),
        cmocka_unit_test(test_fake_line_limit),   cmocka_unit_test(test_fake_cgla),
        cmocka_unit_test(test_fake_fallback),     cmocka_unit_test(test_sim_echo_off),
        cmocka_unit_test(test_sim_echo_on),       cmocka_unit_test(test_sim_urc),
        cmocka_unit_test(test_sim_max_line),      cmocka_unit_test(test_sim_no_channels),
        cmocka_unit_test(test_sim_sign),          cmocka_unit_test(test_sim_card_killed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
