/*
 * VERIFY SIGNATURE (2C/2D): server signature checks (IoT.04 E1, E2, F2, F3)
 * with signatures made by OpenSSL, every accepted 33 length form (rule 8.6),
 * 9000 / 6D01 / 6A80, RSA signatures spanning two APDUs, full-text mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/rsa.h>

#include "card_fixture.h"
#include "card_internal.h"

struct ctx {
    st_card *card;
    EVP_PKEY *peer; /* an OpenSSL P-256 key whose public half is in slot 05 */
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    uint8_t pt[65];
    c->card = cfx_card(NULL);
    c->peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    assert_non_null(c->peer);
    cfx_ec_point(c->peer, pt);
    cfx_expect(c->card, 0x9000, "8124000203850105");
    cfx_expect(c->card, 0x9000, "81D880024734454943864104%s", cfx_hex(pt + 1, 64));
    cfx_expect(c->card, 0x9000, "8124010200");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    EVP_PKEY_free(c->peer);
    st_card_free(c->card);
    free(c);
    return 0;
}

static void sha256(const void *m, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    assert_int_equal(EVP_Digest(m, n, out, &len, EVP_sha256(), NULL), 1);
}

/* The wolfSSL sequence (reference §4, steps 11-13), then every 33 form. */
static void test_ecdsa_forms(void **state)
{
    struct ctx *c = *state;
    uint8_t dig[32], rs[64];
    sha256("server certificate verify", 25, dig);
    cfx_ecdsa_sign(c->peer, dig, 32, rs);
    uint64_t before = st_card_stats(c->card)->ops[ST_OP_VERIFY];
    char d[65], sig[129]; /* copies: cfx_hex() buffers rotate */
    strcpy(d, cfx_hex(dig, 32));
    strcpy(sig, cfx_hex(rs, 64));
    cfx_expect(c->card, 0x9000, "812C00010D850105A1010391020001920104");
    cfx_expect(c->card, 0x9000, "812D8001659E20%s330040%s", d, sig);
    cfx_expect(c->card, 0x9000, "812D8001649E20%s3340%s", d, sig);
    cfx_expect(c->card, 0x9000, "812D8001659E20%s338140%s", d, sig);
    cfx_expect(c->card, 0x9000, "812D8001669E20%s33820040%s00", d, sig);
    /* Signature first, then the digest. */
    cfx_expect(c->card, 0x9000, "812D800165330040%s9E20%s", sig, d);
    cfx_expect(c->card, 0x9000, "812C010100");
    assert_int_equal(st_card_stats(c->card)->ops[ST_OP_VERIFY], before + 5);
}

static void test_mismatch(void **state)
{
    struct ctx *c = *state;
    uint8_t dig[32], rs[64];
    sha256("abc", 3, dig);
    cfx_ecdsa_sign(c->peer, dig, 32, rs);
    cfx_expect(c->card, 0x9000, "812C00010D850105A1010391020001920104");
    rs[10] ^= 0x01;
    cfx_expect(c->card, 0x6D01, "812D8001659E20%s330040%s", cfx_hex(dig, 32), cfx_hex(rs, 64));
    rs[10] ^= 0x01;
    dig[0] ^= 0x80;
    cfx_expect(c->card, 0x6D01, "812D8001659E20%s330040%s", cfx_hex(dig, 32), cfx_hex(rs, 64));
    /* r = s = 0 is no signature, but well-formed: a mismatch. */
    memset(rs, 0, sizeof rs);
    cfx_expect(c->card, 0x6D01, "812D8001659E20%s330040%s", cfx_hex(dig, 32), cfx_hex(rs, 64));
    /* Another key's public half: the card-made signature of key 01 fails on 05. */
    cfx_expect(c->card, 0x9000, "812A00010D840101A1010391020001920104");
    struct cfx_rsp r = cfx_expect(c->card, 0x9000, "812B8001229E20%s", cfx_hex(dig, 32));
    cfx_expect(c->card, 0x6D01, "812D8001659E20%s%s", cfx_hex(dig, 32), cfx_hex(r.data, 67));
    /* And passes on public key 01. */
    cfx_expect(c->card, 0x9000, "812C00020D850101A1010391020001920104");
    cfx_expect(c->card, 0x9000, "812D8002659E20%s%s", cfx_hex(dig, 32), cfx_hex(r.data, 67));
}

static void test_malformed(void **state)
{
    struct ctx *c = *state;
    uint8_t dig[64] = {1}, rs[70] = {2};
    char d[65];
    strcpy(d, cfx_hex(dig, 32));
    cfx_expect(c->card, 0x9000, "812C00010D850105A1010391020001920104");
    cfx_expect(c->card, 0x6A80, "812D8001639E20%s333F%s", d, cfx_hex(rs, 63));   /* r||s 63 */
    cfx_expect(c->card, 0x6A80, "812D8001669E20%s330041%s", d, cfx_hex(rs, 65)); /* r||s 65 */
    cfx_expect(c->card, 0x6A80, "812D8001229E20%s", d);                          /* no 33 */
    cfx_expect(c->card, 0x6A80, "812D8001423340%s", cfx_hex(rs, 64));            /* no 9E */
    cfx_expect(c->card, 0x6A80, "812D8001659B20%s330040%s", d, cfx_hex(rs, 64)); /* 9B in mode 03 */
    cfx_expect(c->card, 0x6A80, "812D8001649E20%s330040%s", d, cfx_hex(rs, 63)); /* truncated */
    cfx_expect(c->card, 0x6A80, "812D0001229E20%s", d); /* 9E only in the last block */
    cfx_expect(c->card, 0x6700, "812D0001");            /* more-data block without data */
    /* Fragments beyond any signature size. */
    static const uint8_t frag[150];
    for (int i = 0; i < 2; i++)
        cfx_expect(c->card, 0x9000, "812D0001%02X3381%02X%s", 3 + 150, 150, cfx_hex(frag, 150));
    cfx_expect(c->card, 0x6A80, "812D0001%02X3381%02X%s", 3 + 150, 150, cfx_hex(frag, 150));
}

static void test_full_text(void **state)
{
    struct ctx *c = *state;
    uint8_t msg[300], dig[32], rs[64];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    sha256(msg, sizeof msg, dig);
    cfx_ecdsa_sign(c->peer, dig, 32, rs);
    /* ORA: mode 01, 9B and the 1-byte 33 form, trailing 00 Le. */
    cfx_expect(c->card, 0x9000, "012C00010D850105A1010191020001920104");
    cfx_expect(c->card, 0x9000, "012D0001C89B81C5%s", cfx_hex(msg, 197));
    cfx_expect(c->card, 0x9000, "012D8001%02X9B%02X%s3340%s00", 2 + 103 + 66, 103,
               cfx_hex(msg + 197, 103), cfx_hex(rs, 64));
    /* Signature sent before the last data block. */
    cfx_expect(c->card, 0x9000, "012D0001%02X9B%02X%s3340%s", 2 + 100 + 66, 100, cfx_hex(msg, 100),
               cfx_hex(rs, 64));
    cfx_expect(c->card, 0x9000, "012D8001%02X9B81C8%s", 3 + 200, cfx_hex(msg + 100, 200));
    /* Wrong message. */
    cfx_expect(c->card, 0x6D01, "012D8001%02X9B%02X%s3340%s", 2 + 100 + 66, 100, cfx_hex(msg, 100),
               cfx_hex(rs, 64));
}

static EVP_PKEY *rsa_private(void)
{
    const struct st_object *o = &cfx_state()->priv[2]; /* "rsa", PKCS#8 DER */
    const unsigned char *p = o->value;
    EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, o->value_len);
    assert_non_null(k);
    return k;
}

static void rsa_sign(EVP_PKEY *k, int salt, const uint8_t *dig, uint8_t sig[256])
{
    size_t n = 256;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    assert_true(ctx != NULL && EVP_PKEY_sign_init(ctx) == 1);
    assert_true(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0);
    if (salt >= 0) {
        assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt) > 0);
    }
    assert_int_equal(EVP_PKEY_sign(ctx, sig, &n, dig, 32), 1);
    assert_int_equal(n, 256);
    EVP_PKEY_CTX_free(ctx);
}

/* RSA: the 256-byte signature needs two APDUs (33 fragments are concatenated). */
static void test_rsa(void **state)
{
    struct ctx *c = *state;
    uint8_t dig[32], sig[256];
    EVP_PKEY *k = rsa_private();
    sha256("rsa", 3, dig);
    char d[65];
    strcpy(d, cfx_hex(dig, 32));
    rsa_sign(k, -1, dig, sig);
    cfx_expect(c->card, 0x9000, "812C00030D850103A1010391020001920101");
    cfx_expect(c->card, 0x9000, "812D0003833381%02X%s", 128, cfx_hex(sig, 128));
    cfx_expect(c->card, 0x9000, "812D8003A59E20%s3381%02X%s", d, 128, cfx_hex(sig + 128, 128));
    /* The 2-byte form spread the same way: 33 00 80 twice. */
    cfx_expect(c->card, 0x9000, "812D000383330080%s", cfx_hex(sig, 128));
    cfx_expect(c->card, 0x9000, "812D8003A49E20%s3380%s", d, cfx_hex(sig + 128, 128));
    sig[255] ^= 1;
    cfx_expect(c->card, 0x9000, "812D000383330080%s", cfx_hex(sig, 128));
    cfx_expect(c->card, 0x6D01, "812D8003A49E20%s3380%s", d, cfx_hex(sig + 128, 128));
    /* Half a signature is malformed; so is a digest RSA cannot name. */
    cfx_expect(c->card, 0x6A80, "812D8003A49E20%s3380%s", d, cfx_hex(sig + 128, 128));
    cfx_expect(c->card, 0x9000, "812D000383330080%s", cfx_hex(sig, 128));
    cfx_expect(c->card, 0x6A80, "812D8003989E14%s3380%s", cfx_hex(dig, 20),
               cfx_hex(sig + 128, 128));

    /* PSS: salt = hash length, and any other salt length is accepted too. */
    cfx_expect(c->card, 0x9000, "812C00030D850103A1010391020001920102");
    for (int salt = 32; salt >= 0; salt -= 12) {
        rsa_sign(k, salt, dig, sig);
        cfx_expect(c->card, 0x9000, "812D000383330080%s", cfx_hex(sig, 128));
        cfx_expect(c->card, 0x9000, "812D8003A49E20%s3380%s", d, cfx_hex(sig + 128, 128));
    }
    /* The PKCS#1 signature does not verify as PSS. */
    rsa_sign(k, -1, dig, sig);
    cfx_expect(c->card, 0x9000, "812D000383330080%s", cfx_hex(sig, 128));
    cfx_expect(c->card, 0x6D01, "812D8003A49E20%s3380%s", d, cfx_hex(sig + 128, 128));
    EVP_PKEY_free(k);
}

static void test_brainpool(void **state)
{
    struct ctx *c = *state;
    uint8_t dig[32];
    sha256("bp", 2, dig);
    cfx_expect(c->card, 0x9000, "812A00000D840102A1010391020001920104");
    struct cfx_rsp r = cfx_expect(c->card, 0x9000, "812B8000229E20%s", cfx_hex(dig, 32));
    cfx_expect(c->card, 0x9000, "812C00000D850102A1010391020001920104");
    cfx_expect(c->card, 0x9000, "812D8000659E20%s%s", cfx_hex(dig, 32), cfx_hex(r.data, 67));
    r.data[5] ^= 0x40;
    cfx_expect(c->card, 0x6D01, "812D8000659E20%s%s", cfx_hex(dig, 32), cfx_hex(r.data, 67));
}

static void test_init_errors(void **state)
{
    struct ctx *c = *state;
    cfx_expect(c->card, 0x6A80, "812C00010D840101A1010391020001920104"); /* private ref */
    cfx_expect(c->card, 0x6A82, "812C00010D850199A1010391020001920104");
    cfx_expect(c->card, 0x6A82, "812C00010E75026E6FA1010391020001920104");
    cfx_expect(c->card, 0x6985, "812C00010D850106A1010391020001920104"); /* empty slot */
    cfx_expect(c->card, 0x6985, "812C00010D850104A1010391020001920104"); /* no sign function */
    cfx_expect(c->card, 0x6A80, "812C00010D850103A1010391020001920104"); /* ECDSA on RSA */
    cfx_expect(c->card, 0x6A80, "812C00010D850105A1010391020001920102"); /* PSS on EC */
    cfx_expect(c->card, 0x6A80, "812C00010D850105A1010591020001920104"); /* mode 05 */
    cfx_expect(c->card, 0x6A80, "812C00010D850105A1010391021001920104"); /* hash 1001 */
    /* By label, mode 01 with SHA-512. */
    cfx_expect(c->card, 0x9000, "812C00011075047065657291020004A10101920104");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ecdsa_forms), T(test_mismatch),  T(test_malformed),   T(test_full_text),
        T(test_rsa),         T(test_brainpool), T(test_init_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
