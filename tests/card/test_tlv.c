/*
 * The helpers behind the crypto commands: tolerant TLV splitting (one-byte
 * lengths above 127 vs BER vs the 33 00 40 form, reference §2.8, §2.14) and
 * SHA-256 resumed from an intermediate state (mode 02, IoT.04 F2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "card_crypto.h"
#include "card_fixture.h"
#include "iotsafe_tlv.h"

static const struct st_tlv_rule prf_rules[] = {
    {0x86, 0}, {0xD1, ST_TLV_BER}, {0xD2, ST_TLV_BER}, {0xD3, 0}};
static const struct st_tlv_rule sig_rules[] = {{0x9E, 0},
                                               {0x9B, ST_TLV_BER | ST_TLV_REPEAT},
                                               {0x33, ST_TLV_BER | ST_TLV_2BYTE | ST_TLV_REPEAT}};

static size_t split(const char *hex, const struct st_tlv_rule *rules, size_t nrules,
                    struct st_tlv *t)
{
    uint8_t buf[1024];
    static uint8_t keep[1024];
    size_t n = cfx_unhex(hex, buf, sizeof buf), cnt = 99;
    memcpy(keep, buf, n); /* t points into it after return */
    if (st_tlv_split(keep, n, rules, nrules, t, &cnt) != 0)
        return (size_t)-1;
    return cnt;
}

static char *repeat(char *out, const char *byte_hex, size_t count)
{
    out[0] = '\0';
    for (size_t i = 0; i < count; i++)
        strcat(out, byte_hex);
    return out;
}

/* THM's one-byte lengths above 127 (D2 A0, D2 81 <129 bytes>). */
static void test_plain_long_lengths(void **state)
{
    struct st_tlv t[ST_TLV_MAX];
    char body[1024], hex[2048];
    snprintf(hex, sizeof hex, "D2A0%sD301FF", repeat(body, "6B", 160));
    assert_int_equal(split(hex, prf_rules, 4, t), 2);
    assert_int_equal(t[0].len, 160);
    assert_int_equal(t[1].v[0], 0xFF);
    /* 81 read as BER would take 0x6B bytes and leave garbage: the plain reading wins. */
    snprintf(hex, sizeof hex, "D281%sD30130", repeat(body, "6B", 129));
    assert_int_equal(split(hex, prf_rules, 4, t), 2);
    assert_int_equal(t[0].tag, 0xD2);
    assert_int_equal(t[0].len, 129);
    assert_int_equal(t[1].v[0], 0x30);
}

static void test_ber_lengths(void **state)
{
    struct st_tlv t[ST_TLV_MAX];
    char body[1024], hex[2048];
    snprintf(hex, sizeof hex, "D1820003AABBCCD281A0%sD30110", repeat(body, "01", 160));
    assert_int_equal(split(hex, prf_rules, 4, t), 3);
    assert_int_equal(t[0].len, 3);
    assert_int_equal(t[0].raw_len, 7);
    assert_int_equal(t[1].len, 160);
    /* A tie (both readings consume everything) goes to BER. */
    snprintf(hex, sizeof hex, "9B8180%s", repeat(body, "80", 128));
    assert_int_equal(split(hex, sig_rules, 3, t), 1);
    assert_int_equal(t[0].len, 128);
}

/* Every signature TLV form of rule 8.6, and the RSA 2-byte form 33 01 00. */
static void test_signature_forms(void **state)
{
    struct st_tlv t[ST_TLV_MAX];
    char sig[1024], hex[2048];
    const char *forms[] = {"3340", "330040", "338140", "33820040"};
    repeat(sig, "5A", 64);
    for (size_t i = 0; i < 4; i++) {
        snprintf(hex, sizeof hex, "9E02ABCD%s%s", forms[i], sig);
        assert_int_equal(split(hex, sig_rules, 3, t), 2);
        assert_int_equal(t[1].tag, 0x33);
        assert_int_equal(t[1].len, 64);
    }
    snprintf(hex, sizeof hex, "330100%s", repeat(sig, "5A", 256));
    assert_int_equal(split(hex, sig_rules, 3, t), 1);
    assert_int_equal(t[0].len, 256);
}

static void test_rejects(void **state)
{
    struct st_tlv t[ST_TLV_MAX];
    assert_int_equal(split("D30110D30110", prf_rules, 4, t), (size_t)-1); /* duplicate */
    assert_int_equal(split("9B01AA9B01BB", sig_rules, 3, t), 2);          /* repeat allowed */
    assert_int_equal(split("9901AA", prf_rules, 4, t), (size_t)-1);       /* unknown tag */
    assert_int_equal(split("D205AABB", prf_rules, 4, t), (size_t)-1);     /* truncated */
    assert_int_equal(split("D2", prf_rules, 4, t), (size_t)-1);           /* no length */
    assert_int_equal(split("", prf_rules, 4, t), 0);
    size_t n = 7;
    assert_int_equal(st_tlv_split(NULL, 0, prf_rules, 4, t, &n), 0);
    assert_int_equal(n, 0);
}

/* Ambiguity everywhere must not make the backtracking explode. */
static void test_pathological_input(void **state)
{
    const struct st_tlv_rule r[] = {{0x81, ST_TLV_BER | ST_TLV_2BYTE | ST_TLV_REPEAT},
                                    {0x00, ST_TLV_BER | ST_TLV_2BYTE | ST_TLV_REPEAT},
                                    {0x01, ST_TLV_BER | ST_TLV_2BYTE | ST_TLV_REPEAT}};
    uint8_t buf[255];
    struct st_tlv t[ST_TLV_MAX];
    size_t n;
    for (int pattern = 0; pattern < 3; pattern++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = pattern == 0   ? 0x81
                     : pattern == 1 ? (uint8_t)(i & 1)
                                    : (uint8_t)(i % 3 ? 0 : 0x81);
        (void)st_tlv_split(buf, sizeof buf, r, 3, t, &n); /* any answer, but quickly */
    }
}

static void sha256(const uint8_t *m, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    assert_int_equal(EVP_Digest(m, n, out, &len, EVP_sha256(), NULL), 1);
}

/*
 * Independent check by length extension: SHA-256(M) for |M| mod 64 < 56 is
 * the state after M and its padding P, so resuming it over a tail must give
 * SHA-256(M || P || tail).
 */
static void check_resume(size_t mlen, size_t tail_len)
{
    uint8_t msg[512], state[32], got[32], want[32];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    sha256(msg, mlen, state);
    size_t padded = (mlen + 9 + 63) / 64 * 64;
    uint8_t full[512 + 128];
    memcpy(full, msg, mlen);
    memset(full + mlen, 0, padded - mlen);
    full[mlen] = 0x80;
    uint64_t bits = (uint64_t)mlen * 8;
    for (int i = 0; i < 8; i++)
        full[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
    memcpy(full + padded, msg, tail_len);
    sha256(full, padded + tail_len, want);
    assert_int_equal(st_crypto_sha256_resume(state, padded, msg, tail_len, got), 0);
    assert_memory_equal(got, want, 32);
}

static void test_sha256_resume(void **state)
{
    static const uint8_t iv[32] = {0x6a, 0x09, 0xe6, 0x67, 0xbb, 0x67, 0xae, 0x85, 0x3c, 0x6e, 0xf3,
                                   0x72, 0xa5, 0x4f, 0xf5, 0x3a, 0x51, 0x0e, 0x52, 0x7f, 0x9b, 0x05,
                                   0x68, 0x8c, 0x1f, 0x83, 0xd9, 0xab, 0x5b, 0xe0, 0xcd, 0x19};
    uint8_t msg[300], got[32], want[32];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    /* From the initial state it is plain SHA-256, at every padding boundary. */
    const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        sha256(msg, lens[i], want);
        assert_int_equal(st_crypto_sha256_resume(iv, 0, msg, lens[i], got), 0);
        assert_memory_equal(got, want, 32);
    }
    check_resume(3, 0);
    check_resume(55, 10);
    check_resume(100, 64);
    check_resume(119, 200);
    assert_int_equal(st_crypto_sha256_resume(iv, 63, msg, 1, got), -1); /* not a block count */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_long_lengths), cmocka_unit_test(test_ber_lengths),
        cmocka_unit_test(test_signature_forms),    cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_pathological_input), cmocka_unit_test(test_sha256_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
