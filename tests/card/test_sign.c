/*
 * COMPUTE SIGNATURE (2A/2B): ECDSA P-256 and brainpoolP256r1 (IoT.04 E1),
 * RSA-2048 PKCS#1 v1.5 and PSS (E2), modes 01/02/03 (F2), both signature
 * length forms (rule 8.6) and every error SW. Signatures are checked with
 * OpenSSL against the public key values, not with the card's VERIFY.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "card_fixture.h"
#include "card_internal.h"

static int setup(void **state)
{
    *state = cfx_card(NULL);
    return 0;
}

static int teardown(void **state)
{
    st_card_free(*state);
    return 0;
}

static void digest(const EVP_MD *md, const void *m, size_t n, uint8_t *out)
{
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(m, n, out, &len, md, NULL), 1);
}

static EVP_PKEY *pub_of(st_card *card, const char *id)
{
    const struct st_object *o = cfx_obj(card, ST_OBJ_PUBLIC_KEY, id);
    return cfx_public_pkey(o->key_type, o->value, o->value_len);
}

/* Checks "33 00 40 r s" and that r || s is valid for dig under public key id. */
static void check_ecdsa(st_card *card, const struct cfx_rsp *r, const char *id, const uint8_t *dig,
                        size_t dlen)
{
    assert_int_equal(r->sw, 0x9000);
    assert_int_equal(r->len, 67);
    assert_memory_equal(r->data, "\x33\x00\x40", 3);
    EVP_PKEY *pub = pub_of(card, id);
    assert_true(cfx_ecdsa_ok(pub, dig, dlen, r->data + 3));
    EVP_PKEY_free(pub);
}

/* The wolfSSL TLS sequence (reference §4): init, 9E SHA-256, close. */
static void test_p256_digest_wolfssl(void **state)
{
    st_card *card = *state;
    uint8_t dig[32];
    digest(EVP_sha256(), "hello world", 11, dig);
    uint64_t before = st_card_stats(card)->ops[ST_OP_SIGN];
    cfx_expect(card, 0x9000, "812A00010D840101A1010391020001920104");
    struct cfx_rsp r = cfx_send(card, "812B8001229E20%s", cfx_hex(dig, 32));
    check_ecdsa(card, &r, "01", dig, 32);
    /* The session stays usable for the next signature. */
    r = cfx_send(card, "812B8001229E20%s00", cfx_hex(dig, 32));
    check_ecdsa(card, &r, "01", dig, 32);
    cfx_expect(card, 0x9000, "812A010100");
    assert_int_equal(st_card_stats(card)->ops[ST_OP_SIGN], before + 2);
}

/* Label reference, session 0 and CLA 0x0X (THM/THP style). */
static void test_by_label_cla0(void **state)
{
    st_card *card = *state;
    uint8_t dig[32];
    digest(EVP_sha256(), "abc", 3, dig);
    cfx_expect(card, 0x9000, "012A000012 7406636C69656E74 A10103 91020001 920104");
    struct cfx_rsp r = cfx_send(card, "012B8000229E20%s00", cfx_hex(dig, 32));
    check_ecdsa(card, &r, "01", dig, 32);
}

/* WS under TLS 1.2 sends a SHA-512 digest under 91 = SHA-256: ECDSA truncation. */
static void test_p256_long_digest(void **state)
{
    st_card *card = *state;
    uint8_t dig[64];
    digest(EVP_sha512(), "server key exchange", 19, dig);
    cfx_expect(card, 0x9000, "812A00010D840101A1010391020001920104");
    struct cfx_rsp r = cfx_send(card, "812B8001429E40%s", cfx_hex(dig, 64));
    check_ecdsa(card, &r, "01", dig, 64);
    /* And a short one (20 bytes), signed as given. */
    r = cfx_send(card, "812B8001169E14%s", cfx_hex(dig, 20));
    check_ecdsa(card, &r, "01", dig, 20);
}

static void test_brainpool(void **state)
{
    st_card *card = *state;
    uint8_t dig[32];
    digest(EVP_sha256(), "brainpool", 9, dig);
    cfx_expect(card, 0x9000, "812A00020D840102A1010391020001920104");
    struct cfx_rsp r = cfx_send(card, "812B8002229E20%s", cfx_hex(dig, 32));
    check_ecdsa(card, &r, "02", dig, 32);
}

/* The 1-byte form "33 40" (ORA, NTT), and "33 82 01 00" for RSA. */
static void test_one_byte_form(void **state)
{
    struct st_card_state *s = malloc(sizeof(*s));
    assert_non_null(s);
    memcpy(s, cfx_state(), sizeof(*s));
    s->sig_form = ST_SIG_FORM_1BYTE;
    st_card *card = cfx_card(s);
    uint8_t dig[32];
    digest(EVP_sha256(), "\xAB\xCD\xEF", 3, dig);
    /* ORA: full text 9B 03 ABCDEF with its stray trailing 00. */
    cfx_expect(card, 0x9000, "012A00010D840101A1010191020001920104 00");
    struct cfx_rsp r = cfx_send(card, "012B8001059B03ABCDEF0000");
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 66);
    assert_memory_equal(r.data, "\x33\x40", 2);
    EVP_PKEY *pub = pub_of(card, "01");
    assert_true(cfx_ecdsa_ok(pub, dig, 32, r.data + 2));
    EVP_PKEY_free(pub);

    cfx_expect(card, 0x9000, "812A00030D840103A1010391020001920101");
    r = cfx_send(card, "812B8003229E20%s", cfx_hex(dig, 32));
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 260);
    assert_memory_equal(r.data, "\x33\x82\x01\x00", 4);
    pub = pub_of(card, "03");
    assert_true(cfx_rsa_ok(pub, false, dig, 32, r.data + 4, 256));
    EVP_PKEY_free(pub);
    st_card_free(card);
    free(s);
}

/* Mode 01 over several blocks, with 1-byte and BER 9B lengths, SHA-384. */
static void test_full_text_blocks(void **state)
{
    st_card *card = *state;
    uint8_t msg[600], dig[48];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 13);
    digest(EVP_sha384(), msg, sizeof msg, dig);
    cfx_expect(card, 0x9000, "812A00000D840101A1010191020002920104");
    cfx_expect(card, 0x9000, "812B0000%02X9B%02X%s", 2 + 100, 100, cfx_hex(msg, 100));
    /* THM/BER: 9B 81 C8 (200 bytes), then two TLVs in one block. */
    cfx_expect(card, 0x9000, "812B0000CB9B81C8%s", cfx_hex(msg + 100, 200));
    cfx_expect(card, 0x9000, "812B0000%02X9B%02X%s9B%02X%s", 4 + 200, 100, cfx_hex(msg + 300, 100),
               100, cfx_hex(msg + 400, 100));
    struct cfx_rsp r =
        cfx_send(card, "812B8000%02X9B%02X%s", 2 + 100, 100, cfx_hex(msg + 500, 100));
    check_ecdsa(card, &r, "01", dig, 48);
    /* A new signature starts from an empty hash; an empty last block is allowed. */
    digest(EVP_sha384(), "", 0, dig);
    r = cfx_send(card, "812B8000");
    check_ecdsa(card, &r, "01", dig, 48);
}

/* Mode 02: the device hashed whole blocks; 9C its SHA-256 state, 9D the count. */
static void test_last_block_mode(void **state)
{
    st_card *card = *state;
    /* By length extension the state after M (55 bytes) and its padding P is SHA-256(M). */
    uint8_t m[55], full[64 + 40], st[32], dig[32];
    memset(m, 'm', sizeof m);
    digest(EVP_sha256(), m, sizeof m, st);
    memcpy(full, m, 55);
    full[55] = 0x80;
    memset(full + 56, 0, 6);
    full[62] = 0x01;
    full[63] = 0xB8; /* 440 bits */
    memset(full + 64, 't', 40);
    digest(EVP_sha256(), full, sizeof full, dig);
    cfx_expect(card, 0x9000, "812A00010D840101A1010291020001920104");
    struct cfx_rsp r = cfx_send(card, "812B8001529A28%s9C20%s9D0400000040", cfx_hex(full + 64, 40),
                                cfx_hex(st, 32));
    check_ecdsa(card, &r, "01", dig, 32);
    /* Any order of the TLVs; the tail may be empty (9A absent). */
    digest(EVP_sha256(), full, 64, dig);
    r = cfx_send(card, "812B8001289D04000000409C20%s", cfx_hex(st, 32));
    check_ecdsa(card, &r, "01", dig, 32);
    /* Errors: no state, short state, count not a multiple of 64, P1=00. */
    cfx_expect(card, 0x6A80, "812B8001069D0400000040");
    cfx_expect(card, 0x6A80, "812B8001279C1F%s9D0400000040", cfx_hex(st, 31));
    cfx_expect(card, 0x6A80, "812B8001289C20%s9D0400000041", cfx_hex(st, 32));
    cfx_expect(card, 0x6A80, "812B8001279C20%s9D03000040", cfx_hex(st, 32));
    cfx_expect(card, 0x6A86, "812B0001289C20%s9D0400000040", cfx_hex(st, 32));
    cfx_expect(card, 0x6A80,
               "812B800122"
               "9E20%s",
               cfx_hex(st, 32));
    /* Mode 02 resumes SHA-256 only. */
    cfx_expect(card, 0x6A80, "812A00010D840101A1010291020002920104");
}

static void test_rsa(void **state)
{
    st_card *card = *state;
    uint8_t msg[] = "certificate verify", dig[64];
    EVP_PKEY *pub = pub_of(card, "03");

    /* PKCS#1 v1.5, mode 03, SHA-256 / SHA-512 by the digest length; 259 bytes: GET RESPONSE. */
    digest(EVP_sha256(), msg, sizeof msg, dig);
    cfx_expect(card, 0x9000, "812A00010D840103A1010391020001920101");
    struct cfx_rsp r = cfx_send(card, "812B8001229E20%s", cfx_hex(dig, 32));
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 259);
    assert_memory_equal(r.data, "\x33\x01\x00", 3);
    assert_true(cfx_rsa_ok(pub, false, dig, 32, r.data + 3, 256));
    digest(EVP_sha512(), msg, sizeof msg, dig);
    r = cfx_send(card, "812B8001429E40%s", cfx_hex(dig, 64));
    assert_true(cfx_rsa_ok(pub, false, dig, 64, r.data + 3, 256));
    /* RSA cannot pick a DigestInfo for a 20-byte digest. */
    cfx_expect(card, 0x6A80, "812B8001169E14%s", cfx_hex(dig, 20));

    /* PSS (salt = hash length), mode 01 with the card hashing. */
    digest(EVP_sha256(), msg, sizeof msg, dig);
    cfx_expect(card, 0x9000, "812A00020F740372 7361 A1010191020001920102");
    r = cfx_send(card, "812B8002%02X9B%02X%s", (int)sizeof msg + 2, (int)sizeof msg,
                 cfx_hex(msg, sizeof msg));
    assert_int_equal(r.sw, 0x9000);
    assert_true(cfx_rsa_ok(pub, true, dig, 32, r.data + 3, 256));
    /* PSS over a SHA-384 digest. */
    digest(EVP_sha384(), msg, sizeof msg, dig);
    cfx_expect(card, 0x9000, "812A00020D840103A1010391020002920102");
    r = cfx_send(card, "812B8002329E30%s", cfx_hex(dig, 48));
    assert_true(cfx_rsa_ok(pub, true, dig, 48, r.data + 3, 256));
    EVP_PKEY_free(pub);
}

/* T=0 style (modem mode, Kigen/NTT): 6143 then GET RESPONSE. */
static void test_t0_style(void **state)
{
    st_card *card = *state;
    uint8_t dig[32];
    digest(EVP_sha256(), "hello world", 11, dig);
    st_card_set_t0_style(card, true);
    cfx_expect(card, 0x9000, "812A00010D840101A1010391020001920104");
    struct cfx_rsp r = cfx_send_raw(card, "812B8001229E20%s", cfx_hex(dig, 32));
    assert_int_equal(r.sw, 0x6143);
    assert_int_equal(r.len, 0);
    r = cfx_send_raw(card, "81C0000043");
    check_ecdsa(card, &r, "01", dig, 32);
}

static void test_init_errors(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x6A82, "812A00010D840109A1010391020001920104"); /* no key 09 */
    cfx_expect(card, 0x6A82, "812A00010F7403787878A1010391020001920104");
    cfx_expect(card, 0x6A80, "812A00010D850101A1010391020001920104");       /* public ref */
    cfx_expect(card, 0x6A80, "812A000110840101740101A1010391020001920104"); /* ID and label */
    cfx_expect(card, 0x6A80, "812A00010A A1010391020001920104");            /* no key */
    cfx_expect(card, 0x6985, "812A00010D840106A1010391020001920104");       /* no sign function */
    cfx_expect(card, 0x6985, "812A00010D840107A1010391020001920104");       /* empty key */
    cfx_expect(card, 0x6985, "812A00010D840104A1010391020001920104");       /* 04: no sign either */
    cfx_expect(card, 0x6A80, "812A00010D840103A1010391020001920104");       /* ECDSA on RSA */
    cfx_expect(card, 0x6A80, "812A00010D840101A1010391020001920101");       /* PKCS#1 on EC */
    cfx_expect(card, 0x6A80, "812A00010D840101A1010491020001920104");       /* mode 04 */
    cfx_expect(card, 0x6A80, "812A00010D840101A1010091020001920104");       /* mode 00 */
    cfx_expect(card, 0x6A80, "812A00010D840101A1010391020003920104");       /* hash 0003 */
    cfx_expect(card, 0x6A80, "812A00010D840101A1010391020008920104");       /* hash 0008 */
    cfx_expect(card, 0x6A80, "812A00010D840101A1010391020001920108");       /* CMAC (THP) */
    cfx_expect(card, 0x6A80, "812A00010C840101A10103910100920104");         /* 91 one byte */
    cfx_expect(card, 0x6A80, "812A000109840101910200019201");               /* no A1, bad 92 */
    cfx_expect(card, 0x6A80, "812A000109840101A101019201 04");              /* mode 01 needs 91 */
    cfx_expect(card, 0x6A80, "812A00010F840101A1010391020001920104 9900");  /* unknown tag */
    /* 91 may be left out in mode 03. */
    cfx_expect(card, 0x9000, "812A000109840101A10103920104");

    /* 92 without the algorithm, and the sign bit, on a copy of the state. */
    struct st_card_state *s = malloc(sizeof(*s));
    assert_non_null(s);
    memcpy(s, cfx_state(), sizeof(*s));
    s->priv[2].sig_algos = ST_SIG_RSA_PKCS1; /* "rsa" */
    st_card *c2 = cfx_card(s);
    cfx_expect(c2, 0x6985, "812A00010D840103A1010391020001920102");
    cfx_expect(c2, 0x9000, "812A00010D840103A1010391020001920101");
    st_card_free(c2);
    free(s);
}

static void test_update_errors(void **state)
{
    st_card *card = *state;
    uint8_t dig[65] = {0};
    cfx_expect(card, 0x9000, "812A00010D840101A1010391020001920104");
    cfx_expect(card, 0x6700, "812B8001");                           /* no data */
    cfx_expect(card, 0x6A86, "812B0001229E20%s", cfx_hex(dig, 32)); /* mode 03 in blocks */
    cfx_expect(card, 0x6A80, "812B8001029E00");                     /* empty digest */
    cfx_expect(card, 0x6A80, "812B8001439E41%s", cfx_hex(dig, 65)); /* longer than SHA-512 */
    cfx_expect(card, 0x6A80, "812B8001059B03ABCDEF");               /* tag of another mode */
    cfx_expect(card, 0x6A80, "812B8001229E21%s", cfx_hex(dig, 32)); /* truncated TLV */
    cfx_expect(card, 0x6A80, "812B8001449E20%s9E20%s", cfx_hex(dig, 32), cfx_hex(dig, 32));
    /* Errors leave the session open. */
    struct cfx_rsp r = cfx_send(card, "812B8001229E20%s", cfx_hex(dig, 32));
    check_ecdsa(card, &r, "01", dig, 32);

    /* Full text: a bad block drops what was hashed before it. */
    cfx_expect(card, 0x9000, "812A00010D840101A1010191020001920104");
    cfx_expect(card, 0x9000, "812B0001059B03AAAAAA");
    cfx_expect(card, 0x6A80, "812B0001049B03AAAA");
    digest(EVP_sha256(), "\xAB\xCD\xEF", 3, dig);
    r = cfx_send(card, "812B8001059B03ABCDEF");
    check_ecdsa(card, &r, "01", dig, 32);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_p256_digest_wolfssl), T(test_by_label_cla0), T(test_p256_long_digest),
        T(test_brainpool),           T(test_one_byte_form), T(test_full_text_blocks),
        T(test_last_block_mode),     T(test_rsa),           T(test_t0_style),
        T(test_init_errors),         T(test_update_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
