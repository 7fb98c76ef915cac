/*
 * libsimtrust APDU layer (lib/core/apdu.c) against a scripted fake
 * transport: short-APDU cases 1-4, the channel in the CLA for both classes,
 * GET RESPONSE loops on 61xx (CLA = the command's, concatenation), 6Cxx
 * re-sends, 91xx / 63CF as success, SW mapping with the raw SW kept, trace
 * and lock hooks, max_apdu, malformed R-APDUs and buffer limits
 * (reference §1 "GET RESPONSE, 61xx and 6Cxx handling"; IoT.04 B5, B6, D6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "simtrust/apdu.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*h) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(h, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

static const char *hex(const uint8_t *p, size_t n)
{
    static char b[2 * 600 + 1];
    for (size_t i = 0; i < n && i < 600; i++)
        snprintf(b + 2 * i, 3, "%02X", p[i]);
    b[2 * (n < 600 ? n : 600)] = '\0';
    return b;
}

/* One scripted exchange: the expected C-APDU and the answer (or an error). */
struct step {
    const char *expect; /* hex, NULL: any */
    const char *answer; /* hex R-APDU */
    int error;          /* non-zero: transmit returns this */
};

struct script {
    const struct step *steps;
    size_t n, at;
};

static int script_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen)
{
    struct script *s = ctx;
    if (s->at >= s->n)
        fail_msg("unexpected APDU %s", hex(c, clen));
    const struct step *st = &s->steps[s->at++];
    if (st->expect != NULL) {
        uint8_t e[300];
        size_t en = unhex(st->expect, e, sizeof e);
        if (en != clen || memcmp(e, c, clen) != 0)
            fail_msg("step %zu: got %s, expected %s", s->at - 1, hex(c, clen), st->expect);
    }
    if (st->error)
        return st->error;
    *rlen = unhex(st->answer, r, *rlen);
    return 0;
}

static const struct st_transport_ops script_ops = {.name = "script", .transmit = script_transmit};

static struct script g_script;
static struct st_sim g_sim;

static void run(const struct step *steps, size_t n, size_t max_apdu)
{
    struct st_transport tr = {&script_ops, &g_script, max_apdu};
    g_script = (struct script){steps, n, 0};
    st_sim_init(&g_sim, &tr);
}

static void done(void)
{
    assert_int_equal(g_script.at, g_script.n);
}

#define RUN(steps, max) run(steps, sizeof(steps) / sizeof(steps[0]), max)

static void test_cla(void **state)
{
    (void)state;
    assert_int_equal(st_apdu_cla(ST_CLA_ISO, 0), 0x00);
    assert_int_equal(st_apdu_cla(ST_CLA_ISO, 3), 0x03);
    assert_int_equal(st_apdu_cla(ST_CLA_PROPRIETARY, 1), 0x81);
    assert_int_equal(st_apdu_cla(ST_CLA_PROPRIETARY, 3), 0x83);
    assert_int_equal(st_apdu_cla(ST_CLA_ISO, 4), 0x40);
    assert_int_equal(st_apdu_cla(ST_CLA_ISO, 19), 0x4F);
    assert_int_equal(st_apdu_cla(ST_CLA_PROPRIETARY, 4), 0xC0);
    assert_int_equal(st_apdu_cla(ST_CLA_PROPRIETARY, 19), 0xCF);
    assert_int_equal(st_apdu_cla(ST_CLA_ISO, 20), 0xFF);
    assert_int_equal(st_apdu_cla(0xA0, 0), 0xFF);
}

static void test_encode_cases(void **state)
{
    (void)state;
    uint8_t out[300], data[255];
    size_t n;
    memset(data, 0x11, sizeof data);
    struct st_apdu a = {.cla = ST_CLA_PROPRIETARY, .ins = 0x2A, .p1 = 1, .p2 = 1, .channel = 1};
    n = sizeof out; /* case 1 */
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_OK);
    assert_string_equal(hex(out, n), "812A0101");
    a.le = 256; /* case 2, Le 00 = 256 */
    n = sizeof out;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_OK);
    assert_string_equal(hex(out, n), "812A010100");
    a.le = 0; /* case 3 */
    a.data = data;
    a.lc = 2;
    n = sizeof out;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_OK);
    assert_string_equal(hex(out, n), "812A0101021111");
    a.le = 0x44; /* case 4 */
    a.channel = 5;
    n = sizeof out;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_OK);
    assert_string_equal(hex(out, n), "C12A010102111144");
    a.flags = ST_APDU_BASIC;
    n = sizeof out;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_OK);
    assert_int_equal(out[0], 0x80);
    a.flags = 0;
    a.lc = 255; /* the longest short APDU */
    a.le = 256;
    n = sizeof out;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_OK);
    assert_int_equal(n, 261);
    n = 260;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_E_BUFFER);
    assert_int_equal(n, 260);
    a.lc = 256;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_E_ARG);
    a.lc = 1;
    a.le = 257;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_E_ARG);
    a.le = 0;
    a.data = NULL;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_E_ARG);
    a.lc = 0;
    a.channel = 20;
    assert_int_equal(st_apdu_encode(&a, out, &n), ST_E_ARG);
}

/* 61xx: GET RESPONSE with the command's CLA (channel included), concatenated. */
static void test_get_response_chain(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"812B8001029E00", "6103", 0},
        {"81C0000003", "AABBCC6102", 0},
        {"81C0000002", "DDEE9000", 0},
    };
    RUN(steps, 0);
    uint8_t d[2] = {0x9E, 0x00}, out[16];
    size_t n = sizeof out;
    uint16_t sw = 0;
    struct st_apdu a = {
        .cla = 0x80, .ins = 0x2B, .p1 = 0x80, .p2 = 1, .channel = 1, .data = d, .lc = 2};
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, &sw), ST_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(n, 5);
    assert_string_equal(hex(out, n), "AABBCCDDEE");
    assert_int_equal(st_sim_last_sw(&g_sim), 0x9000);
    done();
}

/* Direct data followed by 61xx (the card's answer over 256 bytes); 6100 = 256 more. */
static void test_get_response_256(void **state)
{
    (void)state;
    static char first[2 * 258 + 1], second[2 * 258 + 1];
    for (int i = 0; i < 256; i++) {
        snprintf(first + 2 * i, 3, "%02X", i);
        snprintf(second + 2 * i, 3, "%02X", 255 - i);
    }
    strcpy(first + 512, "6100");
    strcpy(second + 512, "9000");
    const struct step steps[] = {
        {"00CB010000", first, 0},
        {"00C0000000", second, 0},
    };
    RUN(steps, 0);
    uint8_t out[600];
    size_t n = sizeof out;
    uint16_t sw;
    struct st_apdu a = {.cla = 0, .ins = 0xCB, .p1 = 1, .le = 256};
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, &sw), ST_OK);
    assert_int_equal(n, 512);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[255], 255);
    assert_int_equal(out[256], 255);
    assert_int_equal(out[511], 0);
    done();
}

/* 6Cxx: the same command again with Le = xx; case 3 gets an Le appended. */
static void test_wrong_le(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"80CB000044", "6C10", 0},
        {"80CB000010", "0102030405060708090A0B0C0D0E0F109000", 0},
        {"00B00000028301", "6C05", 0},
        {"00B0000002830105", "11223344559000", 0},
    };
    RUN(steps, 0);
    uint8_t out[32];
    size_t n = sizeof out;
    struct st_apdu a = {.cla = 0x80, .ins = 0xCB, .le = 0x44};
    assert_int_equal(st_sim_command(&g_sim, &a, out, &n), ST_OK);
    assert_int_equal(n, 16);
    uint8_t d[2] = {0x83, 0x01};
    struct st_apdu b = {.cla = 0, .ins = 0xB0, .data = d, .lc = 2};
    n = sizeof out;
    assert_int_equal(st_sim_command(&g_sim, &b, out, &n), ST_OK);
    assert_int_equal(n, 5);
    done();
}

/* A second 6Cxx is not followed (no loops); a GET RESPONSE with 6Cxx is repeated. */
static void test_wrong_le_twice(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"80840000FF", "6C20", 0},
        {"8084000020", "6C08", 0},
    };
    RUN(steps, 0);
    uint8_t out[64];
    size_t n = sizeof out;
    uint16_t sw;
    struct st_apdu a = {.cla = 0x80, .ins = 0x84, .le = 0xFF};
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, &sw), ST_OK);
    assert_int_equal(sw, 0x6C08);
    assert_int_equal(n, 0);
    done();
    RUN(steps, 0);
    assert_int_equal(st_sim_command(&g_sim, &a, out, &n), ST_E_CARD);
    assert_int_equal(st_sim_last_sw(&g_sim), 0x6C08);
    done();
    static const struct step s2[] = {
        {"8184000008", "6108", 0},
        {"81C0000008", "6C04", 0},
        {"81C0000004", "010203049000", 0},
    };
    RUN(s2, 0);
    struct st_apdu b = {.cla = 0x80, .ins = 0x84, .channel = 1, .le = 8};
    n = sizeof out;
    assert_int_equal(st_sim_command(&g_sim, &b, out, &n), ST_OK);
    assert_int_equal(n, 4);
    done();
}

/* 91xx and 63CF are success (data kept, raw SW reported); 9Fxx is like 61xx. */
static void test_success_words(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {NULL, "AB9110", 0},           {NULL, "CD63CF", 0}, {NULL, "9F02", 0},
        {"00C0000002", "EEFF9000", 0}, {NULL, "6A82", 0},   {NULL, "6D01", 0},
    };
    RUN(steps, 0);
    uint8_t out[8];
    size_t n = sizeof out;
    struct st_apdu a = {.cla = 0, .ins = 0x84, .le = 1};
    assert_int_equal(st_sim_command(&g_sim, &a, out, &n), ST_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st_sim_last_sw(&g_sim), 0x9110);
    n = sizeof out;
    assert_int_equal(st_sim_command(&g_sim, &a, out, &n), ST_OK);
    assert_int_equal(st_sim_last_sw(&g_sim), 0x63CF);
    n = sizeof out;
    assert_int_equal(st_sim_command(&g_sim, &a, out, &n), ST_OK);
    assert_int_equal(n, 2);
    n = 5;
    assert_int_equal(st_sim_command(&g_sim, &a, out, &n), ST_E_CARD_NOT_FOUND);
    assert_int_equal(n, 5); /* not written on failure */
    assert_int_equal(st_sim_last_sw(&g_sim), 0x6A82);
    assert_int_equal(st_sim_command(&g_sim, &a, out, &n), ST_E_CARD_SIGNATURE);
    assert_int_equal(st_sim_last_sw(&g_sim), 0x6D01);
    done();
}

static void test_malformed(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {NULL, "90", 0},          /* 1 byte: no SW */
        {NULL, "", 0},            /* nothing */
        {NULL, "0102039000", 0},  /* longer than the buffer */
        {NULL, "6101", 0},        /* 61xx ... */
        {NULL, "", ST_E_NO_CARD}, /* ... and the card is gone */
        {NULL, "", ST_E_TIMEOUT},
        {NULL, "", 5},       /* a positive code breaks the contract */
        {NULL, "019000", 0}, /* data with no buffer */
    };
    RUN(steps, 0);
    uint8_t out[2];
    size_t n = sizeof out;
    uint16_t sw = 0x1111;
    struct st_apdu a = {.cla = 0, .ins = 0x84, .le = 1};
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, &sw), ST_E_PARSE);
    assert_int_equal(sw, 0x1111);
    assert_int_equal(st_sim_last_sw(&g_sim), 0);
    assert_string_not_equal(st_sim_detail(&g_sim), "");
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, &sw), ST_E_PARSE);
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, &sw), ST_E_BUFFER);
    assert_int_equal(n, 2);
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, &sw), ST_E_NO_CARD);
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, &sw), ST_E_TIMEOUT);
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, &sw), ST_E_IO);
    assert_int_equal(st_sim_exchange(&g_sim, &a, NULL, NULL, &sw), ST_E_BUFFER);
    assert_int_equal(st_sim_exchange(&g_sim, &a, out, &n, NULL), ST_E_ARG);
    done();
}

/* A card that keeps answering 61xx with no data is cut off. */
static int endless_61(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen)
{
    (void)c;
    (void)clen;
    (*(int *)ctx)++;
    r[0] = 0x61;
    r[1] = 0x00;
    *rlen = 2;
    return 0;
}

static void test_endless_61(void **state)
{
    (void)state;
    static const struct st_transport_ops ops = {.name = "61", .transmit = endless_61};
    int calls = 0;
    struct st_transport tr = {&ops, &calls, 0};
    struct st_sim sim;
    st_sim_init(&sim, &tr);
    uint8_t out[8];
    size_t n = sizeof out;
    uint16_t sw;
    struct st_apdu a = {.cla = 0, .ins = 0x84, .le = 1};
    assert_int_equal(st_sim_exchange(&sim, &a, out, &n, &sw), ST_E_PARSE);
    assert_true(calls > 1 && calls < 100);
}

static void test_max_apdu(void **state)
{
    (void)state;
    static const struct step steps[] = {{NULL, "9000", 0}};
    RUN(steps, 10);
    uint8_t d[8] = {0};
    struct st_apdu a = {.cla = 0x80, .ins = 0x2A, .data = d, .lc = 6};
    assert_int_equal(st_sim_max_apdu(&g_sim), 10);
    assert_int_equal(st_sim_command(&g_sim, &a, NULL, NULL), ST_E_UNSUPPORTED);
    a.lc = 5; /* 4 + 1 + 5 = 10 */
    assert_int_equal(st_sim_command(&g_sim, &a, NULL, NULL), ST_OK);
    done();
    /* A 6Cxx that would grow a case-3 command past the limit. */
    static const struct step s2[] = {{NULL, "6C10", 0}};
    RUN(s2, 10);
    assert_int_equal(st_sim_command(&g_sim, &a, NULL, NULL), ST_E_UNSUPPORTED);
    RUN(s2, 0);
    assert_int_equal(st_sim_max_apdu(&g_sim), ST_SHORT_APDU_MAX);
}

/* Trace hook: every APDU in order, both directions. */
struct trace_log {
    char lines[8][600];
    int n;
};

static void tracer(void *arg, enum st_trace_dir dir, const uint8_t *b, size_t len)
{
    struct trace_log *t = arg;
    assert_true(t->n < 8);
    snprintf(t->lines[t->n++], sizeof t->lines[0], "%c%s", dir == ST_TRACE_COMMAND ? '>' : '<',
             hex(b, len));
}

/* Lock hook: counts and checks nesting. */
struct lock_log {
    int depth, max_depth, locks;
};

static void lk(void *arg)
{
    struct lock_log *l = arg;
    l->locks++;
    if (++l->depth > l->max_depth)
        l->max_depth = l->depth;
}

static void ulk(void *arg)
{
    struct lock_log *l = arg;
    assert_true(l->depth > 0);
    l->depth--;
}

static void test_hooks(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"0070000001", "019000", 0},
        {"01A404000207A0", "6A82", 0},
        {"00708001", "9000", 0},
        {"0084000000", "9000", 0},
    };
    RUN(steps, 0);
    struct trace_log t = {0};
    struct lock_log l = {0};
    st_sim_set_trace(&g_sim, tracer, &t);
    assert_int_equal(st_sim_set_lock(&g_sim, lk, NULL, &l), ST_E_ARG);
    assert_int_equal(st_sim_set_lock(&g_sim, lk, ulk, &l), ST_OK);
    uint8_t ch = 0;
    assert_int_equal(st_sim_open_channel(&g_sim, &ch), ST_OK);
    assert_int_equal(ch, 1);
    uint8_t aid[2] = {0x07, 0xA0};
    assert_int_equal(st_sim_select(&g_sim, ch, aid, 2), ST_E_CARD_NOT_FOUND);
    /* MANAGE CHANNEL close: case 1, channel in P2, on the basic channel. */
    assert_int_equal(st_sim_close_channel(&g_sim, 1), ST_OK);
    assert_int_equal(st_sim_close_channel(&g_sim, 0), ST_E_ARG);
    assert_int_equal(t.n, 6);
    assert_string_equal(t.lines[0], ">0070000001");
    assert_string_equal(t.lines[1], "<019000");
    assert_string_equal(t.lines[3], "<6A82");
    assert_string_equal(t.lines[4], ">00708001");
    assert_int_equal(l.locks, 4); /* the refused close took the lock too */
    assert_int_equal(l.depth, 0);
    assert_int_equal(l.max_depth, 1);
    st_sim_set_trace(&g_sim, NULL, NULL);
    /* The _held variants take no lock of their own. */
    st_sim_lock(&g_sim);
    struct st_apdu a = {.cla = 0, .ins = 0x84, .le = 256};
    assert_int_equal(st_sim_command_held(&g_sim, &a, NULL, NULL), ST_OK);
    st_sim_unlock(&g_sim);
    assert_int_equal(l.locks, 5);
    assert_int_equal(l.max_depth, 1);
    assert_int_equal(t.n, 6);
    assert_int_equal(st_sim_set_lock(&g_sim, NULL, NULL, NULL), ST_OK);
    done();
}

/* MANAGE CHANNEL answers that are not one channel number, and no channel left. */
static void test_channel_errors(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {NULL, "9000", 0}, {NULL, "00009000", 0}, {NULL, "009000", 0},
        {NULL, "6881", 0}, {NULL, "6A81", 0},     {NULL, "149000", 0},
    };
    RUN(steps, 0);
    uint8_t ch = 0xEE;
    assert_int_equal(st_sim_open_channel(&g_sim, &ch), ST_E_PARSE);
    assert_int_equal(st_sim_open_channel(&g_sim, &ch), ST_E_PARSE);
    assert_int_equal(st_sim_open_channel(&g_sim, &ch), ST_E_PARSE);
    assert_int_equal(st_sim_open_channel(&g_sim, &ch), ST_E_CARD_CHANNEL);
    assert_int_equal(st_sim_open_channel(&g_sim, &ch), ST_E_CARD_CHANNEL);
    assert_int_equal(st_sim_open_channel(&g_sim, &ch), ST_E_PARSE);
    assert_int_equal(ch, 0xEE);
    assert_int_equal(st_sim_select(&g_sim, 1, NULL, 0), ST_E_ARG);
    done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cla),
        cmocka_unit_test(test_encode_cases),
        cmocka_unit_test(test_get_response_chain),
        cmocka_unit_test(test_get_response_256),
        cmocka_unit_test(test_wrong_le),
        cmocka_unit_test(test_wrong_le_twice),
        cmocka_unit_test(test_success_words),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_endless_61),
        cmocka_unit_test(test_max_apdu),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_channel_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
