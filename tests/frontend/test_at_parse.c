/*
 * Unit tests of the front ends' pure parts: AT line assembly and command
 * parsing (at_parse.h), --latency specs and [HOST:]PORT endpoints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frontend/at_parse.h"
#include "frontend/frontend.h"

static void parse(const char *line, struct st_modem_cmd *c)
{
    st_modem_parse(line, strlen(line), c);
}

static void test_lines(void **state)
{
    (void)state;
    struct st_modem_lines l;
    enum st_modem_line_event ev;
    assert_int_equal(st_modem_lines_init(&l, 8), -1); /* below the minimum */
    assert_int_equal(st_modem_lines_init(&l, 16), 0);

    const uint8_t in[] = "AT\r\nATI\rAT+CS";
    size_t n = sizeof(in) - 1, off = 0;
    off += st_modem_lines_feed(&l, in + off, n - off, &ev);
    assert_int_equal(ev, ST_MODEM_LINE_READY);
    assert_int_equal(l.len, 2);
    assert_memory_equal(l.buf, "AT", 2);
    assert_int_equal(off, 3);
    /* The LF of CR LF is an empty line: skipped. */
    off += st_modem_lines_feed(&l, in + off, n - off, &ev);
    assert_int_equal(ev, ST_MODEM_LINE_READY);
    assert_int_equal(l.len, 3);
    assert_memory_equal(l.buf, "ATI", 3);
    off += st_modem_lines_feed(&l, in + off, n - off, &ev);
    assert_int_equal(ev, ST_MODEM_LINE_NONE);
    assert_int_equal(off, n);
    /* Completed by a later chunk. */
    off = st_modem_lines_feed(&l, (const uint8_t *)"IM\n", 3, &ev);
    assert_int_equal(ev, ST_MODEM_LINE_READY);
    assert_int_equal(l.len, 7);
    assert_memory_equal(l.buf, "AT+CSIM", 7);

    /* Exactly max bytes fit; one more discards the line up to its end. */
    off = st_modem_lines_feed(&l, (const uint8_t *)"0123456789ABCDEF\r", 17, &ev);
    assert_int_equal(ev, ST_MODEM_LINE_READY);
    assert_int_equal(l.len, 16);
    const uint8_t lng[] = "0123456789ABCDEFG more\rAT\r";
    off = st_modem_lines_feed(&l, lng, sizeof(lng) - 1, &ev);
    assert_int_equal(ev, ST_MODEM_LINE_TOO_LONG);
    assert_int_equal(off, 23);
    off += st_modem_lines_feed(&l, lng + off, sizeof(lng) - 1 - off, &ev);
    assert_int_equal(ev, ST_MODEM_LINE_READY);
    assert_memory_equal(l.buf, "AT", 2);
    assert_int_equal(l.len, 2);
    st_modem_lines_free(&l);
}

static void test_basic_commands(void **state)
{
    (void)state;
    struct st_modem_cmd c;
    parse("AT", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_PLAIN);
    parse("  at  ", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_PLAIN);
    parse("ATE0", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_ECHO);
    assert_int_equal(c.num, 0);
    parse("ate1", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_ECHO);
    assert_int_equal(c.num, 1);
    parse("ATE", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_ECHO);
    assert_int_equal(c.num, 0);
    parse("ATE2", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_UNKNOWN);
    parse("ATI", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_INFO);
    parse("ATI0", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_INFO);
    parse("ATZ", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_UNKNOWN);
    parse("AT+COPS?", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_UNKNOWN);
    parse("AT+CSIMX=1", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_UNKNOWN);
    parse("AT+CSIM=?", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_TEST);
    parse("AT+CMEE=2", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_CMEE);
    assert_int_equal(c.num, 2);
    parse("AT+CMEE=3", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_BAD);
    parse("BT", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_UNKNOWN);
    parse("", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_UNKNOWN);
    st_modem_parse("AT\0", 3, &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_UNKNOWN);
}

static void test_csim(void **state)
{
    (void)state;
    struct st_modem_cmd c;
    static const uint8_t sel[] = {0x01, 0xA4, 0x04, 0x00, 0x07, 0xA0,
                                  0x00, 0x00, 0x05, 0x59, 0x00, 0x10};
    const char *good[] = {
        "AT+CSIM=24,\"01A4040007A0000005590010\"",
        "AT+CSIM= 24,\"01A4040007A0000005590010\"", /* wolfSSL */
        "AT+CSIM=24, \"01a4040007a0000005590010\"", /* Kigen client, lower case */
        "AT+CSIM = 24 , \" 01A4040007A0000005590010 \" ",
        "at+csim=24,01A4040007A0000005590010", /* no quotes */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        parse(good[i], &c);
        assert_int_equal(c.kind, ST_MODEM_CMD_CSIM);
        assert_int_equal(c.data_len, sizeof(sel));
        assert_memory_equal(c.data, sel, sizeof(sel));
    }
    const char *bad[] = {
        "AT+CSIM=22,\"01A4040007A0000005590010\"", /* length mismatch */
        "AT+CSIM=23,\"01A4040007A000000559001\"",  /* odd digits */
        "AT+CSIM=24,\"01A4040007A00000055900G0\"", /* not hex */
        "AT+CSIM=24,\"01A4040007A0000005590010",   /* unterminated quote */
        "AT+CSIM=0,\"\"",                          /* empty */
        "AT+CSIM=24 \"01A4040007A0000005590010\"", /* no comma */
        "AT+CSIM=-24,\"01A4040007A0000005590010\"",
        "AT+CSIM=24,\"01A4040007A0000005590010\",1",
        "AT+CSIM",
        "AT+CSIM?",
        "AT+CSIM=9999999999,\"00\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse(bad[i], &c);
        assert_int_equal(c.kind, ST_MODEM_CMD_BAD);
        assert_int_equal(c.cme, ST_MODEM_CME_INCORRECT_PARAMS);
    }
    /* Longest APDU accepted, one byte more refused. */
    char line[2 * ST_CAPDU_MAX + 64];
    int n = snprintf(line, sizeof(line), "AT+CSIM=%d,\"", 2 * ST_CAPDU_MAX);
    memset(line + n, 'A', 2 * ST_CAPDU_MAX);
    strcpy(line + n + 2 * ST_CAPDU_MAX, "\"");
    parse(line, &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_CSIM);
    assert_int_equal(c.data_len, ST_CAPDU_MAX);
    n = snprintf(line, sizeof(line), "AT+CSIM=%d,\"", 2 * ST_CAPDU_MAX + 2);
    memset(line + n, 'A', 2 * ST_CAPDU_MAX + 2);
    strcpy(line + n + 2 * ST_CAPDU_MAX + 2, "\"");
    parse(line, &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_BAD);
}

static void test_channels(void **state)
{
    (void)state;
    struct st_modem_cmd c;
    parse("AT+CCHO=\"A0000001157000000000000049534102\"", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_CCHO);
    assert_int_equal(c.data_len, 16);
    parse("AT+CCHO=\"A000000115700000000000004953410200\"", &c); /* 17 bytes */
    assert_int_equal(c.kind, ST_MODEM_CMD_BAD);
    parse("AT+CCHO=\"\"", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_BAD);
    parse("AT+CGLA=17,10,\"00C0000000\"", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_CGLA);
    assert_int_equal(c.num, 17);
    assert_int_equal(c.data_len, 5);
    parse("AT+CGLA= 17 , 10 , \"00c0000000\"", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_CGLA);
    parse("AT+CGLA=17,12,\"00C0000000\"", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_BAD);
    parse("AT+CGLA=,10,\"00C0000000\"", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_BAD);
    parse("AT+CCHC=17", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_CCHC);
    assert_int_equal(c.num, 17);
    parse("AT+CCHC=x", &c);
    assert_int_equal(c.kind, ST_MODEM_CMD_BAD);
}

static void test_latency(void **state)
{
    (void)state;
    struct st_latency l;
    char err[128];
    assert_int_equal(st_latency_parse("none", &l, err, sizeof(err)), 0);
    assert_false(l.sleep);
    assert_int_equal(l.sign_us, 0);
    assert_int_equal(st_latency_parse("modem-sim", &l, err, sizeof(err)), 0);
    assert_true(l.sleep);
    assert_int_equal(l.per_apdu_us, 20000);
    assert_int_equal(l.per_byte_us, 50);
    assert_int_equal(l.keygen_us, 800000);
    assert_int_equal(l.ecdh_us, 110000);
    assert_int_equal(st_latency_parse("sim", &l, err, sizeof(err)), 0);
    assert_int_equal(l.per_apdu_us, 2000);
    assert_int_equal(l.sign_us, 100000);
    assert_int_equal(
        st_latency_parse("sign=100ms,ecdh=110ms,per_byte=50us,keygen=1s", &l, err, sizeof(err)), 0);
    assert_true(l.sleep);
    assert_int_equal(l.sign_us, 100000);
    assert_int_equal(l.ecdh_us, 110000);
    assert_int_equal(l.per_byte_us, 50);
    assert_int_equal(l.keygen_us, 1000000);
    assert_int_equal(l.verify_us, 0);
    assert_int_equal(st_latency_parse("modem-sim,sign=5ms,sleep=no", &l, err, sizeof(err)), 0);
    assert_false(l.sleep);
    assert_int_equal(l.sign_us, 5000);
    assert_int_equal(l.per_apdu_us, 20000);
    const char *bad[] = {"",
                         "fast",
                         "sign=",
                         "sign=10m",
                         "sign=ms",
                         "bogus=1ms",
                         "sign=10ms,modem-sim",
                         "sleep=maybe",
                         "sign=5000s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(st_latency_parse(bad[i], &l, err, sizeof(err)), -1);
}

static void test_endpoint(void **state)
{
    (void)state;
    char host[64], err[128];
    uint16_t port;
    assert_int_equal(
        st_fe_parse_endpoint("35963", "127.0.0.1", host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 35963);
    assert_int_equal(
        st_fe_parse_endpoint("localhost:0", "x", host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 0);
    assert_int_equal(
        st_fe_parse_endpoint("[::1]:4000", "x", host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 4000);
    const char *bad[] = {"", "host:", ":80", "70000", "a:b", "::1:80", "[::1]80", "-1", "1x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            st_fe_parse_endpoint(bad[i], "h", host, sizeof(host), &port, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),   cmocka_unit_test(test_basic_commands),
        cmocka_unit_test(test_csim),    cmocka_unit_test(test_channels),
        cmocka_unit_test(test_latency), cmocka_unit_test(test_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
