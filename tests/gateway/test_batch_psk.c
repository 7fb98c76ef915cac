/*
 * Scenario 5 batch identities and eUK derivation (IoT.04 2.5; 3.3.2.2.3 Get PSK
 * Data; M2). Known-answer tests: Azure DPS group-key derivation (HMAC-SHA-256,
 * server-anchors.md 1.2), RFC 5869 test case 3 (HKDF-SHA-256, no salt, no
 * info: our HKDF profile), and our own vectors recomputed here through
 * different OpenSSL entry points (EVP_Q_mac, EVP_PKEY HKDF) and fixed from the
 * openssl CLI (docs/gateway-batch-psk.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdlib.h>
#include <string.h>

#include "batch_psk.h"
#include "st_hex.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    long n = st_hex_decode(h, strlen(h), out, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

static void b64(const uint8_t *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* server-anchors.md 1.2: device key = Base64(HMAC-SHA256(Base64Decode(groupKey), regId)). */
static void test_kat_azure_dps(void **state)
{
    (void)state;
    const char *group_b64 =
        "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==";
    const char *reg = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6";
    uint8_t key[80], out[32];
    char enc[64];
    int n = EVP_DecodeBlock(key, (const unsigned char *)group_b64, (int)strlen(group_b64));
    assert_int_equal(n, 66); /* 88 chars -> 66 bytes incl. 2 padding bytes */
    size_t key_len = 64;
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HMAC_SHA256, key, key_len, (const uint8_t *)reg,
                                        strlen(reg), out, sizeof(out)),
                     0);
    b64(out, sizeof(out), enc);
    assert_string_equal(enc, "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=");
    /* The constant-time check accepts exactly that key and nothing else. */
    assert_int_equal(st_gw_batch_check_euk(ST_GW_KDF_HMAC_SHA256, key, key_len,
                                           (const uint8_t *)reg, strlen(reg), out, 32), 1);
    out[31] ^= 1;
    assert_int_equal(st_gw_batch_check_euk(ST_GW_KDF_HMAC_SHA256, key, key_len,
                                           (const uint8_t *)reg, strlen(reg), out, 32), 0);
    out[31] ^= 1;
    out[0] ^= 0x80;
    assert_int_equal(st_gw_batch_check_euk(ST_GW_KDF_HMAC_SHA256, key, key_len,
                                           (const uint8_t *)reg, strlen(reg), out, 32), 0);
}

/* RFC 5869 A.3: SHA-256, IKM = 0x0b * 22, salt and info empty. */
static void test_kat_rfc5869_case3(void **state)
{
    (void)state;
    uint8_t ikm[22], out[42], exp[42];
    memset(ikm, 0x0b, sizeof(ikm));
    unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
          exp, sizeof(exp));
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, ikm, sizeof(ikm), NULL, 0, out,
                                        sizeof(out)),
                     0);
    assert_memory_equal(out, exp, sizeof(exp));
}

/* Project vectors, fixed with the openssl CLI (docs/gateway-batch-psk.md). */
static void test_kat_project_vectors(void **state)
{
    (void)state;
    const char *id = "MeterCo:batch-2026-11:89882280000000000014";
    uint8_t bmk[32], out[32], exp[32];
    for (int i = 0; i < 32; i++)
        bmk[i] = (uint8_t)i;
    unhex("72b28f257754143714e8438e2c779cd7d937cdbecc1c42f2fa22a3f3a746f527", exp, 32);
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HMAC_SHA256, bmk, 32, (const uint8_t *)id,
                                        strlen(id), out, 32), 0);
    assert_memory_equal(out, exp, 32);
    unhex("4764819b1281c2c1c1792f0dbedcde16489a4c97d30aa17ad6fea754ba3d4316", exp, 32);
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, bmk, 32, (const uint8_t *)id,
                                        strlen(id), out, 32), 0);
    assert_memory_equal(out, exp, 32);
}

/* Independent recomputation through other OpenSSL APIs, several key/out sizes. */
static void test_cross_check_evp(void **state)
{
    (void)state;
    const char *id = "Vendor-1:B.42:8944000000000000019";
    uint8_t bmk[64], a[64], b[64];
    for (int i = 0; i < 64; i++)
        bmk[i] = (uint8_t)(0xA5 ^ (i * 7));
    for (size_t kl = 16; kl <= 64; kl += 16) {
        size_t n = 0;
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, bmk, kl,
                                  (const unsigned char *)id, strlen(id), b, sizeof(b), &n));
        assert_int_equal(n, 32);
        for (size_t ol = 1; ol <= 32; ol += 31) {
            assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HMAC_SHA256, bmk, kl,
                                                (const uint8_t *)id, strlen(id), a, ol), 0);
            assert_memory_equal(a, b, ol);
        }
        for (size_t ol = 16; ol <= 64; ol += 16) {
            EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
            size_t got = ol;
            assert_non_null(pc);
            assert_int_equal(EVP_PKEY_derive_init(pc), 1);
            assert_int_equal(EVP_PKEY_CTX_set_hkdf_md(pc, EVP_sha256()), 1);
            assert_int_equal(EVP_PKEY_CTX_set1_hkdf_key(pc, bmk, (int)kl), 1);
            assert_int_equal(EVP_PKEY_CTX_add1_hkdf_info(pc, (const unsigned char *)id,
                                                         (int)strlen(id)), 1);
            assert_int_equal(EVP_PKEY_derive(pc, b, &got), 1);
            EVP_PKEY_CTX_free(pc);
            assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, bmk, kl,
                                                (const uint8_t *)id, strlen(id), a, ol), 0);
            assert_memory_equal(a, b, ol);
        }
    }
}

static void test_derive_rejects_bad_args(void **state)
{
    (void)state;
    uint8_t bmk[65] = {0}, out[40];
    memset(out, 0x55, sizeof(out));
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HMAC_SHA256, bmk, 15, (const uint8_t *)"x", 1,
                                        out, 32), -1);
    assert_int_equal(out[0], 0); /* wiped on error */
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HMAC_SHA256, bmk, 65, (const uint8_t *)"x", 1,
                                        out, 32), -1);
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HMAC_SHA256, bmk, 32, (const uint8_t *)"x", 1,
                                        out, 33), -1);
    assert_int_equal(st_gw_batch_derive(99, bmk, 32, (const uint8_t *)"x", 1, out, 32), -1);
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, bmk, 32, (const uint8_t *)"x", 1,
                                        out, 0), -1);
    assert_int_equal(st_gw_kdf_parse("hkdf-sha256"), ST_GW_KDF_HKDF_SHA256);
    assert_int_equal(st_gw_kdf_parse("hmac-sha256"), ST_GW_KDF_HMAC_SHA256);
    assert_int_equal(st_gw_kdf_parse("sha1"), 0);
    assert_string_equal(st_gw_kdf_name(ST_GW_KDF_HKDF_SHA256), "hkdf-sha256");
}

struct parse_case {
    const char *in;
    int rc;
};

static void test_parse_table(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        {"MeterCo:batch:89882280000000000014", ST_GW_BATCH_OK},
        {"MeterCo:batch-2026-11:8944000000000000019", ST_GW_BATCH_OK},     /* 19 digits */
        {"a:b:894400000000000001", 99},                                   /* 18 digits: see below */
        {"V.e_n-d0:B:89882280000000000014", ST_GW_BATCH_OK},
        {"12345678901234567890123456789012:12345678901234567890123456789012:89882280000000000014",
         ST_GW_BATCH_OK},                                                  /* 86 bytes, max */
        {"123456789012345678901234567890123:b:89882280000000000014", ST_GW_BATCH_EFIELDLEN},
        {"MeterCo:batch:89882280000000000017", ST_GW_BATCH_ELUHN},
        {"MeterCo:batch:89882280000000000015", ST_GW_BATCH_ELUHN},
        {"MeterCo:batch:8988228000000000001", 99},
        {"MeterCo:batch:99882280000000000014", ST_GW_BATCH_EICCID},       /* not 89 */
        {"MeterCo:batch:8988228000000000", ST_GW_BATCH_EICCID},           /* 16 digits */
        {"MeterCo:batch:898822800000000000140", ST_GW_BATCH_EICCID},      /* 21 digits */
        {"MeterCo:batch:8988228000000000001A", ST_GW_BATCH_EICCID},
        {"MeterCo:batch:", ST_GW_BATCH_ESYNTAX},
        {":batch:89882280000000000014", ST_GW_BATCH_ESYNTAX},
        {"MeterCo::89882280000000000014", ST_GW_BATCH_ESYNTAX},
        {"MeterCobatch89882280000000000014", ST_GW_BATCH_ESYNTAX},
        {"MeterCo:batch:89882280000000000014:", ST_GW_BATCH_ESYNTAX},
        {"Meter:Co:batch:89882280000000000014", ST_GW_BATCH_ESYNTAX},
        {"Meter Co:batch:89882280000000000014", ST_GW_BATCH_ECHAR},
        {"MeterCo:ba|tch:89882280000000000014", ST_GW_BATCH_ECHAR},
        {"M\xc3\xa9terCo:batch:89882280000000000014", ST_GW_BATCH_ECHAR},
        {"", ST_GW_BATCH_ESYNTAX},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct st_gw_batch_id id;
        const char *s = cases[i].in;
        int rc = st_gw_batch_parse((const uint8_t *)s, strlen(s), &id);
        if (cases[i].rc == 99) {
            /* 18/19-digit ICCIDs: accepted iff the Luhn digit fits */
            size_t l = strlen(strrchr(s, ':') + 1);
            int want = st_gw_luhn_ok(strrchr(s, ':') + 1, l) ? ST_GW_BATCH_OK : ST_GW_BATCH_ELUHN;
            assert_int_equal(rc, want);
            continue;
        }
        if (rc != cases[i].rc)
            print_error("case %zu \"%s\": got %d want %d\n", i, s, rc, cases[i].rc);
        assert_int_equal(rc, cases[i].rc);
        if (rc == ST_GW_BATCH_OK) {
            char back[ST_GW_BATCH_IDENTITY_MAX + 1];
            assert_int_equal(st_gw_batch_format(id.vendor, id.batch, id.iccid, back, sizeof(back)),
                             (int)strlen(s));
            assert_string_equal(back, s); /* canonical: one byte form per identity */
        } else {
            assert_int_equal(id.vendor[0], 0);
            assert_int_equal(id.iccid[0], 0);
        }
    }
}

static void test_parse_bounds(void **state)
{
    (void)state;
    struct st_gw_batch_id id;
    uint8_t big[300];
    memset(big, 'A', sizeof(big));
    assert_int_equal(st_gw_batch_parse(big, sizeof(big), &id), ST_GW_BATCH_ETOOLONG);
    assert_int_equal(st_gw_batch_parse(NULL, 0, &id), ST_GW_BATCH_ESYNTAX);
    /* An embedded NUL is just an invalid character, never a terminator. */
    static const uint8_t nul[] = "MeterCo\0:batch:89882280000000000014";
    assert_int_equal(st_gw_batch_parse(nul, sizeof(nul) - 1, &id), ST_GW_BATCH_ECHAR);
    /* Exact-length input: the parser never reads past len. */
    const char *ok = "MeterCo:batch:89882280000000000014";
    uint8_t *exact = malloc(strlen(ok));
    memcpy(exact, ok, strlen(ok));
    assert_int_equal(st_gw_batch_parse(exact, strlen(ok), &id), 0);
    assert_string_equal(id.vendor, "MeterCo");
    assert_string_equal(id.batch, "batch");
    assert_string_equal(id.iccid, "89882280000000000014");
    assert_int_equal(st_gw_batch_parse(exact, strlen(ok) - 1, &id), ST_GW_BATCH_ELUHN);
    free(exact);
    char small[10];
    assert_int_equal(st_gw_batch_format("MeterCo", "batch", "89882280000000000014", small,
                                        sizeof(small)), ST_GW_BATCH_ETOOLONG);
    assert_int_equal(st_gw_batch_format("Meter:Co", "batch", "89882280000000000014", small,
                                        sizeof(small)), ST_GW_BATCH_ECHAR);
    assert_non_null(st_gw_batch_strerror(ST_GW_BATCH_ELUHN));
}

static void test_luhn(void **state)
{
    (void)state;
    assert_true(st_gw_luhn_ok("79927398713", 11)); /* the classic example */
    assert_false(st_gw_luhn_ok("79927398710", 11));
    assert_true(st_gw_luhn_ok("89882280000000000014", 20));
    assert_false(st_gw_luhn_ok("8988228000000000001x", 20));
    assert_false(st_gw_luhn_ok("0", 1));
    assert_true(st_gw_iccid_digits_ok("898822800000000000", 18));
    assert_false(st_gw_iccid_digits_ok("89882280000000000", 17));
}

static void test_decoy(void **state)
{
    (void)state;
    uint8_t secret[32] = {1, 2, 3}, a[32], b[32], c[32];
    assert_int_equal(st_gw_psk_decoy(secret, (const uint8_t *)"nobody", 6, a, 32), 0);
    assert_int_equal(st_gw_psk_decoy(secret, (const uint8_t *)"nobody", 6, b, 32), 0);
    assert_int_equal(st_gw_psk_decoy(secret, (const uint8_t *)"nobodz", 6, c, 32), 0);
    assert_memory_equal(a, b, 32); /* stable: retries see the same key */
    assert_memory_not_equal(a, c, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_azure_dps),       cmocka_unit_test(test_kat_rfc5869_case3),
        cmocka_unit_test(test_kat_project_vectors), cmocka_unit_test(test_cross_check_evp),
        cmocka_unit_test(test_derive_rejects_bad_args), cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_bounds),        cmocka_unit_test(test_luhn),
        cmocka_unit_test(test_decoy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
