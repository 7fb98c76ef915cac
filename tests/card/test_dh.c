/*
 * COMPUTE DH (46): ECDHE shared secrets for TLS 1.2 and 1.3 (IoT.04 E6, F4)
 * in the wolfSSL and THM sequences, checked against OpenSSL's derivation
 * with the same keys; the key checks of reference §2.13 and rule 8.8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

/* OpenSSL's ECDH of our private key and the card's public point. */
static void expected_secret(EVP_PKEY *mine, uint8_t key_type, const uint8_t *card_pt,
                            uint8_t out[32])
{
    EVP_PKEY *peer = cfx_public_pkey(key_type, card_pt, 65);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(mine, NULL);
    size_t n = 32;
    assert_true(ctx != NULL && EVP_PKEY_derive_init(ctx) == 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, peer), 1);
    assert_int_equal(EVP_PKEY_derive(ctx, out, &n), 1);
    assert_int_equal(n, 32);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
}

/* wolfSSL TLS 1.3 steps 1-5 (reference §4): keygen 04, peer share into 05, DH. */
static void test_wolfssl_sequence(void **state)
{
    st_card *card = *state;
    EVP_PKEY *server = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    uint8_t spt[65], want[32];
    cfx_ec_point(server, spt);
    struct cfx_rsp g = cfx_expect(card, 0x9000, "81B9000003840104");
    cfx_expect(card, 0x9000, "8124000203850105");
    cfx_expect(card, 0x9000, "81D880024734454943864104%s", cfx_hex(spt + 1, 64));
    cfx_expect(card, 0x9000, "8124010200");
    uint64_t before = st_card_stats(card)->ops[ST_OP_ECDH];
    struct cfx_rsp z = cfx_expect(card, 0x9000, "8146000006840104850105");
    assert_int_equal(z.len, 32);
    expected_secret(server, ST_KEY_P256, g.data + 12, want);
    assert_memory_equal(z.data, want, 32);
    assert_int_equal(st_card_stats(card)->ops[ST_OP_ECDH], before + 1);
    /* Labels, public reference first, Le present. */
    z = cfx_expect(card, 0x9000, "814600000D 750470656572 7405656364686500");
    assert_memory_equal(z.data, want, 32);
    EVP_PKEY_free(server);
}

/* THM's exact APDUs (trace #9-#13) on the basic channel, T=0 style. */
static void test_thales_sequence(void **state)
{
    st_card *card = *state;
    const char *xy = "9E5B7F778B7997617C8993B6406608EFE2D3F2D6751D6B3F5F5320FFFD6A7DC9"
                     "A8F6C5C1474F64D668364AE2ED8DC4C1C6C4767423B013937B4499F52C4F89A0";
    st_card_set_t0_style(card, true);
    cfx_expect(card, 0x9000, "00A4040007A0000005590010");
    struct cfx_rsp g = cfx_send_raw(card, "00B900000384010400");
    assert_int_equal(g.sw, 0x614D);
    g = cfx_send_raw(card, "00C000004D");
    assert_int_equal(g.sw, 0x9000);
    cfx_expect(card, 0x9000, "002400000385010500");
    cfx_expect(card, 0x9000, "00D880004734454943864104%s00", xy);
    struct cfx_rsp z = cfx_send_raw(card, "004600000684010485010500");
    assert_int_equal(z.sw, 0x6120);
    z = cfx_send_raw(card, "00C0000020");
    assert_int_equal(z.sw, 0x9000);
    assert_int_equal(z.len, 32);
    /* Same secret as the direct answer. */
    st_card_set_t0_style(card, false);
    struct cfx_rsp d = cfx_expect(card, 0x9000, "004600000684010485010500");
    assert_memory_equal(d.data, z.data, 32);
}

static void test_brainpool(void **state)
{
    st_card *card = *state;
    EVP_PKEY *server = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "brainpoolP256r1");
    uint8_t spt[65], want[32];
    cfx_ec_point(server, spt);
    struct cfx_rsp g = cfx_expect(card, 0x9000, "81B9000003840108");
    cfx_expect(card, 0x9000, "8124000003850106");
    cfx_expect(card, 0x9000, "81D880004734454943864104%s", cfx_hex(spt + 1, 64));
    struct cfx_rsp z = cfx_expect(card, 0x9000, "8146000006840108850106");
    expected_secret(server, ST_KEY_BP256, g.data + 9, want);
    assert_memory_equal(z.data, want, 32);
    /* The persistent brainpool key 02 agrees with its own public half's peer. */
    z = cfx_expect(card, 0x9000, "8146000006840102850106");
    const struct st_object *pub02 = cfx_obj(card, ST_OBJ_PUBLIC_KEY, "02");
    expected_secret(server, ST_KEY_BP256, pub02->value, want);
    assert_memory_equal(z.data, want, 32);
    EVP_PKEY_free(server);
}

static void test_errors(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x6985, "8146000006840104850101"); /* 04 still empty */
    cfx_expect(card, 0x9000, "81B9000003840104");
    cfx_expect(card, 0x6985, "8146000006840104850105"); /* public slot empty (THM 5f24a22a) */
    cfx_expect(card, 0x6985, "8146000006840103850101"); /* RSA: no key agreement */
    cfx_expect(card, 0x6985, "8146000006840107850101"); /* sign|keygen only */
    cfx_expect(card, 0x6A80, "8146000006840104850102"); /* P-256 with brainpool */
    cfx_expect(card, 0x6A80, "8146000006840102850101"); /* brainpool with P-256 */
    cfx_expect(card, 0x6A80, "8146000006840104850103"); /* RSA public key */
    cfx_expect(card, 0x6A82, "8146000006840199850101");
    cfx_expect(card, 0x6A82, "8146000006840104850199");
    cfx_expect(card, 0x6A80, "8146000003840104"); /* no public reference */
    cfx_expect(card, 0x6A80, "8146000003850101"); /* no private reference */
    cfx_expect(card, 0x6A80, "8146000009840104850101850101");
    cfx_expect(card, 0x6A80, "8146000009840104740101850101");
    cfx_expect(card, 0x6A80, "8146000006840104860101");
    cfx_expect(card, 0x6A86, "8146010006840104850101");
    cfx_expect(card, 0x6A86, "8146000106840104850101");
    cfx_expect(card, 0x6700, "81460000");
    /* The happy path for reference: key 06 has only the key-agreement function. */
    cfx_expect(card, 0x9000, "8146000006840106850101");
    /* After a reset the volatile key is gone again. */
    st_card_power(card, ST_POWER_RESET, NULL, 0);
    cfx_expect(card, 0x9000, CFX_SELECT);
    cfx_expect(card, 0x6985, "8146000006840104850101");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_wolfssl_sequence),
        T(test_thales_sequence),
        T(test_brainpool),
        T(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
