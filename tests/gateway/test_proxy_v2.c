/*
 * PROXY protocol v2 writer/parser (IoT.04 N1, N2: what the IoT server
 * application learns about the authenticated device). Headers are compared
 * byte for byte with vectors computed by hand from proxy-protocol.txt 2.2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proxy_v2.h"

#define SIG 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A

/* Writes, compares with exp, checks every too-small buffer, parses back. */
static void check_vector(const struct st_pp2_info *in, const uint8_t *exp, size_t exp_len)
{
    uint8_t buf[512];
    size_t n = 0;
    assert_int_equal(st_pp2_write(in, buf, sizeof(buf), &n), ST_PP2_OK);
    assert_int_equal(n, exp_len);
    assert_memory_equal(buf, exp, exp_len);
    for (size_t cap = 0; cap < exp_len; cap++) {
        uint8_t *small = malloc(cap ? cap : 1);
        size_t need = 0;
        assert_int_equal(st_pp2_write(in, cap ? small : NULL, cap, &need), ST_PP2_ENOSPC);
        assert_int_equal(need, exp_len);
        free(small);
    }
    /* Every strict prefix asks for more; the whole header parses. */
    struct st_pp2_info out;
    size_t used;
    for (size_t l = 0; l < exp_len; l++) {
        uint8_t *pre = malloc(l ? l : 1);
        memcpy(pre, exp, l);
        assert_int_equal(st_pp2_parse(l ? pre : NULL, l, &out, &used), ST_PP2_NEED_MORE);
        free(pre);
    }
    assert_int_equal(st_pp2_parse(exp, exp_len, &out, &used), ST_PP2_OK);
    assert_int_equal(used, exp_len);
}

static void test_local(void **state)
{
    (void)state;
    struct st_pp2_info in = {.local = 1};
    static const uint8_t exp[] = {SIG, 0x20, 0x00, 0x00, 0x00};
    check_vector(&in, exp, sizeof(exp));
}

static void test_tcp4_device_id(void **state)
{
    (void)state;
    struct st_pp2_info in = {0};
    in.family = ST_PP2_INET;
    in.transport = ST_PP2_STREAM;
    memcpy(in.src_addr, (uint8_t[]){192, 0, 2, 1}, 4);
    memcpy(in.dst_addr, (uint8_t[]){198, 51, 100, 7}, 4);
    in.src_port = 56324; /* 0xDC04 */
    in.dst_port = 8883;  /* 0x22B3 */
    in.device_id = st_pp2_str("dev1");
    static const uint8_t exp[] = {SIG,  0x21, 0x11, 0x00, 0x13,          /* 12 + 7 */
                                  0xC0, 0x00, 0x02, 0x01, 0xC6, 0x33, 0x64, 0x07,
                                  0xDC, 0x04, 0x22, 0xB3,
                                  0xE0, 0x00, 0x04, 'd',  'e',  'v',  '1'};
    check_vector(&in, exp, sizeof(exp));
    struct st_pp2_info out;
    size_t used;
    assert_int_equal(st_pp2_parse(exp, sizeof(exp), &out, &used), ST_PP2_OK);
    assert_int_equal(out.family, ST_PP2_INET);
    assert_int_equal(out.transport, ST_PP2_STREAM);
    assert_int_equal(out.src_port, 56324);
    assert_int_equal(out.dst_port, 8883);
    assert_memory_equal(out.dst_addr, ((uint8_t[]){198, 51, 100, 7}), 4);
    assert_int_equal(out.device_id.n, 4);
    assert_memory_equal(out.device_id.p, "dev1", 4);
    assert_null(out.group.p);
    assert_int_equal(out.ssl, 0);
}

static void test_udp6_batch_ssl(void **state)
{
    (void)state;
    struct st_pp2_info in = {0};
    in.family = ST_PP2_INET6;
    in.transport = ST_PP2_DGRAM;
    in.src_addr[15] = 1;                                     /* ::1 */
    memcpy(in.dst_addr, (uint8_t[]){0x20, 0x01, 0x0d, 0xb8}, 4);
    in.dst_addr[15] = 2;                                     /* 2001:db8::2 */
    in.src_port = 5684;                                      /* 0x1634 */
    in.dst_port = 5684;
    in.ssl = 1;
    in.ssl_client = ST_PP2_CLIENT_SSL;
    in.ssl_verify = 0;
    in.ssl_version = st_pp2_str("DTLSv1.2");
    in.group = st_pp2_str("meters");
    in.auth_method = st_pp2_str("batch-psk");
    in.iccid = st_pp2_str("89882280000000000014");
    static const uint8_t exp[] = {
        SIG, 0x21, 0x22, 0x00, 0x63, /* body 36 + 19 + 9 + 12 + 23 = 99 */
        /* src ::1 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        /* dst 2001:db8::2 */ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        0x16, 0x34, 0x16, 0x34,
        /* SSL: client 01, verify 0, VERSION "DTLSv1.2" -> 1 + 4 + 3 + 8 = 16 */
        0x20, 0x00, 0x10, 0x01, 0, 0, 0, 0, 0x21, 0x00, 0x08, 'D', 'T', 'L', 'S', 'v', '1', '.',
        '2',
        0xE1, 0x00, 0x06, 'm', 'e', 't', 'e', 'r', 's',
        0xE2, 0x00, 0x09, 'b', 'a', 't', 'c', 'h', '-', 'p', 's', 'k',
        0xE3, 0x00, 0x14, '8', '9', '8', '8', '2', '2', '8', '0', '0', '0', '0', '0', '0', '0',
        '0', '0', '0', '0', '1', '4'};
    check_vector(&in, exp, sizeof(exp));
    struct st_pp2_info out;
    size_t used;
    assert_int_equal(st_pp2_parse(exp, sizeof(exp), &out, &used), ST_PP2_OK);
    assert_int_equal(out.ssl, 1);
    assert_int_equal(out.ssl_client, ST_PP2_CLIENT_SSL);
    assert_int_equal(out.ssl_version.n, 8);
    assert_int_equal(out.iccid.n, 20);
    assert_memory_equal(out.auth_method.p, "batch-psk", 9);
    assert_memory_equal(out.src_addr, in.src_addr, 16);
    assert_memory_equal(out.dst_addr, in.dst_addr, 16);
}

static void test_all_tlvs_round_trip(void **state)
{
    (void)state;
    struct st_pp2_info in = {0}, out;
    in.family = ST_PP2_INET;
    in.transport = ST_PP2_STREAM;
    in.authority = st_pp2_str("gw.example.net");
    in.unique_id = st_pp2_str("conn-0001");
    in.ssl = 1;
    in.ssl_client = ST_PP2_CLIENT_SSL | ST_PP2_CLIENT_CERT_CONN;
    in.ssl_verify = 0;
    in.ssl_version = st_pp2_str("TLSv1.3");
    in.ssl_cn = st_pp2_str("device-0001");
    in.ssl_cipher = st_pp2_str("TLS_AES_128_GCM_SHA256");
    in.ssl_sig_alg = st_pp2_str("ECDSA-SHA256");
    in.ssl_key_alg = st_pp2_str("EC256");
    in.device_id = st_pp2_str("device-0001");
    in.group = st_pp2_str("fleet");
    in.auth_method = st_pp2_str("x509");
    in.iccid = st_pp2_str("89882280000000000014");
    in.tenant = st_pp2_str("energyco");
    uint8_t buf[512], buf2[512];
    size_t n, n2, used;
    assert_int_equal(st_pp2_write(&in, buf, sizeof(buf), &n), ST_PP2_OK);
    assert_int_equal(st_pp2_parse(buf, n, &out, &used), ST_PP2_OK);
    assert_int_equal(used, n);
    assert_int_equal(st_pp2_write(&out, buf2, sizeof(buf2), &n2), ST_PP2_OK);
    assert_int_equal(n2, n);
    assert_memory_equal(buf, buf2, n);
    assert_memory_equal(out.tenant.p, "energyco", 8);
    assert_memory_equal(out.ssl_cn.p, "device-0001", 11);
    /* Trailing application bytes are left for the caller. */
    memcpy(buf + n, "HELLO", 5);
    assert_int_equal(st_pp2_parse(buf, n + 5, &out, &used), ST_PP2_OK);
    assert_int_equal(used, n);
}

static void test_writer_rejects(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n;
    struct st_pp2_info in = {0};
    assert_int_equal(st_pp2_write(&in, buf, sizeof(buf), &n), ST_PP2_EINVAL); /* no family */
    in.family = ST_PP2_INET;
    assert_int_equal(st_pp2_write(&in, buf, sizeof(buf), &n), ST_PP2_EINVAL); /* no transport */
    in.transport = ST_PP2_STREAM;
    uint8_t big[200];
    memset(big, 'x', sizeof(big));
    in.unique_id.p = big;
    in.unique_id.n = 129;
    assert_int_equal(st_pp2_write(&in, buf, sizeof(buf), &n), ST_PP2_EINVAL);
    in.unique_id.p = NULL;
    uint8_t *huge = calloc(1, 70000);
    in.device_id.p = huge;
    in.device_id.n = 70000;
    assert_int_equal(st_pp2_write(&in, buf, sizeof(buf), &n), ST_PP2_EINVAL);
    in.device_id.n = 65530; /* TLV fits, header length (12 + 3 + 65530) does not */
    assert_int_equal(st_pp2_write(&in, NULL, 0, &n), ST_PP2_EINVAL);
    free(huge);
}

static void test_parser_rejects(void **state)
{
    (void)state;
    struct st_pp2_info out;
    size_t used;
    static const uint8_t v1[] = "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n";
    assert_int_equal(st_pp2_parse(v1, sizeof(v1) - 1, &out, &used), ST_PP2_ESIG);
    static const uint8_t badver[] = {SIG, 0x11, 0x11, 0x00, 0x00};
    assert_int_equal(st_pp2_parse(badver, sizeof(badver), &out, &used), ST_PP2_EVERSION);
    static const uint8_t badcmd[] = {SIG, 0x22, 0x11, 0x00, 0x00};
    assert_int_equal(st_pp2_parse(badcmd, sizeof(badcmd), &out, &used), ST_PP2_EVERSION);
    static const uint8_t unix_af[] = {SIG, 0x21, 0x31, 0x00, 0x00};
    assert_int_equal(st_pp2_parse(unix_af, sizeof(unix_af), &out, &used), ST_PP2_EFAMILY);
    static const uint8_t short_addr[] = {SIG, 0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4};
    assert_int_equal(st_pp2_parse(short_addr, sizeof(short_addr), &out, &used), ST_PP2_EFAMILY);
    static const uint8_t overrun[] = {SIG, 0x21, 0x11, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8,
                                      0, 1, 0, 2, 0xE0, 0x00, 0x05, 'a'};
    assert_int_equal(st_pp2_parse(overrun, sizeof(overrun), &out, &used), ST_PP2_ETLV);
    static const uint8_t partial_tlv[] = {SIG, 0x21, 0x11, 0x00, 0x0E, 1, 2, 3, 4, 5, 6, 7, 8,
                                          0, 1, 0, 2, 0xE0, 0x00};
    assert_int_equal(st_pp2_parse(partial_tlv, sizeof(partial_tlv), &out, &used), ST_PP2_ETLV);
    static const uint8_t dup[] = {SIG, 0x21, 0x11, 0x00, 0x12, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2,
                                  0xE0, 0x00, 0x00, 0xE0, 0x00, 0x00};
    assert_int_equal(st_pp2_parse(dup, sizeof(dup), &out, &used), ST_PP2_ETLV);
    static const uint8_t ssl_short[] = {SIG, 0x21, 0x11, 0x00, 0x0F, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1,
                                        0, 2, 0x20, 0x00, 0x00};
    assert_int_equal(st_pp2_parse(ssl_short, sizeof(ssl_short), &out, &used), ST_PP2_ETLV);
    /* Unknown TLVs (NOOP 0x04, NETNS 0x30, custom 0xEF) are skipped. */
    static const uint8_t unknown[] = {SIG, 0x21, 0x11, 0x00, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1,
                                      0, 2, 0x04, 0x00, 0x01, 0, 0x30, 0x00, 0x00, 0xEF, 0x00,
                                      0x00, 0xE3, 0x00, 0x00};
    assert_int_equal(st_pp2_parse(unknown, sizeof(unknown), &out, &used), ST_PP2_OK);
    assert_non_null(out.iccid.p);
    assert_int_equal(out.iccid.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local),          cmocka_unit_test(test_tcp4_device_id),
        cmocka_unit_test(test_udp6_batch_ssl), cmocka_unit_test(test_all_tlvs_round_trip),
        cmocka_unit_test(test_writer_rejects), cmocka_unit_test(test_parser_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
