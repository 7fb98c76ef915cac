/*
 * card_crypto.h directly: key generation for every key type, the value
 * formats, import of private and public keys (PEM, DER, certificates) for
 * personalisation (IoT.04 G1), type checks, PEM export and point checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "card_crypto.h"
#include "card_fixture.h"

struct buf {
    uint8_t b[4096];
    size_t n;
};

static void bio_take(BIO *bio, struct buf *out)
{
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    assert_true(n > 0 && (size_t)n <= sizeof out->b);
    memcpy(out->b, p, (size_t)n);
    out->n = (size_t)n;
    BIO_free(bio);
}

static void pem_private(EVP_PKEY *k, bool traditional, struct buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (traditional)
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL, NULL),
                         1);
    else
        assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    bio_take(bio, out);
}

static void der_private(EVP_PKEY *k, struct buf *out)
{
    unsigned char *p = NULL;
    int n = i2d_PrivateKey(k, &p);
    assert_true(n > 0);
    memcpy(out->b, p, (size_t)n);
    out->n = (size_t)n;
    OPENSSL_free(p);
}

static void pem_public(EVP_PKEY *k, struct buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
    bio_take(bio, out);
}

/* A self-signed certificate for k, PEM (der == false) or DER. */
static void cert_of(EVP_PKEY *k, bool der, struct buf *out)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_int_equal(X509_set_pubkey(x, k), 1);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    if (der) {
        unsigned char *p = NULL;
        int n = i2d_X509(x, &p);
        assert_true(n > 0);
        memcpy(out->b, p, (size_t)n);
        out->n = (size_t)n;
        OPENSSL_free(p);
    } else {
        BIO *bio = BIO_new(BIO_s_mem());
        assert_int_equal(PEM_write_bio_X509(bio, x), 1);
        bio_take(bio, out);
    }
    X509_free(x);
}

static void test_keygen_all_types(void **state)
{
    const uint8_t types[] = {ST_KEY_P256, ST_KEY_P256_VOLATILE, ST_KEY_BP256,
                             ST_KEY_BP256_VOLATILE};
    uint8_t pv[ST_PRIV_MAX], pb[ST_PUB_MAX];
    uint16_t pv_len, pb_len;
    for (size_t i = 0; i < sizeof types; i++) {
        assert_true(st_crypto_key_type_supported(types[i]));
        assert_int_equal(st_crypto_keygen(types[i], pv, &pv_len, pb, &pb_len), 0);
        assert_int_equal(pv_len, 32);
        assert_int_equal(pb_len, 65);
        assert_int_equal(pb[0], 0x04);
        assert_int_equal(st_crypto_ec_point_check(types[i], pb, pb_len), 0);
        /* The value formats load back, and the halves belong together. */
        struct st_object o = {.key_type = types[i], .value_len = pv_len};
        memcpy(o.value, pv, pv_len);
        EVP_PKEY *k = st_crypto_private_pkey(&o);
        assert_non_null(k);
        uint8_t pt[65];
        cfx_ec_point(k, pt);
        assert_memory_equal(pt, pb, 65);
        EVP_PKEY_free(k);
    }
    assert_string_equal(st_crypto_curve_name(ST_KEY_P256), "prime256v1");
    assert_string_equal(st_crypto_curve_name(ST_KEY_BP256_VOLATILE), "brainpoolP256r1");
    assert_null(st_crypto_curve_name(ST_KEY_RSA2048));
    assert_false(st_crypto_key_type_supported(ST_KEY_HMAC));
    assert_int_equal(st_crypto_keygen(ST_KEY_HMAC, pv, &pv_len, pb, &pb_len), -1);
    /* A P-256 point is not on brainpoolP256r1. */
    assert_int_equal(st_crypto_keygen(ST_KEY_P256, pv, &pv_len, pb, &pb_len), 0);
    assert_int_equal(st_crypto_ec_point_check(ST_KEY_BP256, pb, 65), -1);
    assert_int_equal(st_crypto_ec_point_check(ST_KEY_P256, pb, 64), -1);
    assert_int_equal(st_crypto_ec_point_check(ST_KEY_RSA2048, pb, 65), -1);
}

static void test_import_ec(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    uint8_t want[65], pv[ST_PRIV_MAX], pb[ST_PUB_MAX];
    uint16_t pv_len, pb_len;
    struct buf b;
    cfx_ec_point(k, want);
    for (int form = 0; form < 3; form++) {
        if (form == 2)
            der_private(k, &b);
        else
            pem_private(k, form == 1, &b);
        assert_int_equal(st_crypto_import_private(ST_KEY_P256, b.b, b.n, pv, &pv_len, pb, &pb_len),
                         0);
        assert_int_equal(pv_len, 32);
        assert_memory_equal(pb, want, 65);
        /* Right key, wrong declared type. */
        assert_int_equal(st_crypto_import_private(ST_KEY_BP256, b.b, b.n, pv, &pv_len, pb, &pb_len),
                         -1);
        assert_int_equal(
            st_crypto_import_private(ST_KEY_RSA2048, b.b, b.n, pv, &pv_len, pb, &pb_len), -1);
    }
    pem_public(k, &b);
    assert_int_equal(st_crypto_import_public(ST_KEY_P256_VOLATILE, b.b, b.n, pb, &pb_len), 0);
    assert_memory_equal(pb, want, 65);
    assert_int_equal(st_crypto_import_public(ST_KEY_BP256, b.b, b.n, pb, &pb_len), -1);
    for (int der = 0; der < 2; der++) {
        cert_of(k, der, &b);
        assert_int_equal(st_crypto_import_public(ST_KEY_P256, b.b, b.n, pb, &pb_len), 0);
        assert_memory_equal(pb, want, 65);
    }
    assert_int_equal(
        st_crypto_import_private(ST_KEY_P256, (const uint8_t *)"junk", 4, pv, &pv_len, pb, &pb_len),
        -1);
    assert_int_equal(st_crypto_import_public(ST_KEY_P256, (const uint8_t *)"junk", 4, pb, &pb_len),
                     -1);
    EVP_PKEY_free(k);
}

static void test_rsa_formats(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    uint8_t pv[ST_PRIV_MAX], pb[ST_PUB_MAX], pb2[ST_PUB_MAX], n[256], e[8];
    uint16_t pv_len, pb_len, pb2_len;
    size_t n_len, e_len;
    struct buf b;
    pem_private(k, false, &b);
    assert_int_equal(st_crypto_import_private(ST_KEY_RSA2048, b.b, b.n, pv, &pv_len, pb, &pb_len),
                     0);
    assert_true(pv_len > 1000 && pv_len <= ST_PRIV_MAX);
    assert_true(pb_len <= ST_PUB_MAX);
    assert_int_equal(st_crypto_import_private(ST_KEY_P256, b.b, b.n, pv, &pv_len, pb2, &pb2_len),
                     -1);
    /* Modulus and exponent round-trip to the same SubjectPublicKeyInfo. */
    assert_int_equal(st_crypto_rsa_public_parts(pb, pb_len, n, &n_len, e, &e_len), 0);
    assert_int_equal(n_len, 256);
    assert_int_equal(e_len, 3);
    assert_int_equal(st_crypto_rsa_public_from_parts(n, n_len, e, e_len, pb2, &pb2_len), 0);
    assert_int_equal(pb2_len, pb_len);
    assert_memory_equal(pb2, pb, pb_len);
    /* 1024-bit modulus, even exponent, exponent 1. */
    assert_int_equal(st_crypto_rsa_public_from_parts(n, 128, e, e_len, pb2, &pb2_len), -1);
    uint8_t even[3] = {1, 0, 2}, one[1] = {1};
    assert_int_equal(st_crypto_rsa_public_from_parts(n, n_len, even, 3, pb2, &pb2_len), -1);
    assert_int_equal(st_crypto_rsa_public_from_parts(n, n_len, one, 1, pb2, &pb2_len), -1);
    /* The PEM export of the public value. */
    struct st_object o = {.key_type = ST_KEY_RSA2048, .value_len = pb_len};
    memcpy(o.value, pb, pb_len);
    char pem[1024];
    assert_int_equal(st_crypto_public_pem(&o, pem, sizeof pem), 0);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    assert_int_equal(st_crypto_public_pem(&o, pem, 100), -1); /* too small */
    /* A 1024-bit key is not of type 03. */
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    pem_private(small, false, &b);
    assert_int_equal(st_crypto_import_private(ST_KEY_RSA2048, b.b, b.n, pv, &pv_len, pb, &pb_len),
                     -1);
    EVP_PKEY_free(small);
    EVP_PKEY_free(k);
}

static void test_bad_values(void **state)
{
    struct st_object o = {.key_type = ST_KEY_P256, .value_len = 32};
    assert_null(st_crypto_private_pkey(&o)); /* scalar 0 */
    memset(o.value, 0xFF, 32);
    assert_null(st_crypto_private_pkey(&o)); /* above the order */
    o.value_len = 31;
    assert_null(st_crypto_private_pkey(&o));
    o.value_len = 0;
    assert_null(st_crypto_private_pkey(&o));
    assert_null(st_crypto_public_pkey(&o));
    o.value_len = 65;
    o.value[0] = 0x04;
    assert_null(st_crypto_public_pkey(&o)); /* not on the curve */
    o.key_type = ST_KEY_RSA2048;
    o.value_len = 10;
    assert_null(st_crypto_private_pkey(&o));
    assert_null(st_crypto_public_pkey(&o));
    o.key_type = ST_KEY_HMAC;
    assert_null(st_crypto_private_pkey(&o));
    char pem[10];
    assert_int_equal(st_crypto_public_pem(&o, pem, sizeof pem), -1);
}

static void test_helpers(void **state)
{
    uint8_t r[300] = {0};
    assert_int_equal(st_crypto_random(r, sizeof r), 0);
    assert_int_equal(st_crypto_hash_of_len(32), ST_HASH_SHA256);
    assert_int_equal(st_crypto_hash_of_len(48), ST_HASH_SHA384);
    assert_int_equal(st_crypto_hash_of_len(64), ST_HASH_SHA512);
    assert_int_equal(st_crypto_hash_of_len(20), 0);
    assert_null(st_crypto_md(0x0008));
    assert_true(st_crypto_alg_fits(ST_KEY_BP256, ST_SIG_ECDSA));
    assert_false(st_crypto_alg_fits(ST_KEY_BP256, ST_SIG_RSA_PSS));
    assert_true(st_crypto_alg_fits(ST_KEY_RSA2048, ST_SIG_RSA_PSS));
    assert_false(st_crypto_alg_fits(ST_KEY_RSA2048, ST_SIG_ECDSA));
    assert_int_equal(st_crypto_sig_len(ST_KEY_P256), 64);
    assert_int_equal(st_crypto_sig_len(ST_KEY_RSA2048), 256);
    assert_int_equal(st_crypto_sig_len(ST_KEY_HMAC), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_all_types), cmocka_unit_test(test_import_ec),
        cmocka_unit_test(test_rsa_formats),      cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
