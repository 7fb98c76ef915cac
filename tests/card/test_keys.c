/*
 * GENERATE KEY PAIR (B9; IoT.04 F7, G2, H1), READ PUBLIC KEY (CD) and PUT
 * PUBLIC KEY (24/D8; E4, F3, F4): response layouts of reference §2.10-2.12,
 * the RSA extension, volatile vs persistent keys, the paired public key
 * update, commit failure, and every error SW.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>

#include "card_fixture.h"
#include "card_internal.h"
#include "image.h"

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

static void assert_on_curve(uint8_t key_type, const uint8_t *pt)
{
    EVP_PKEY *k = cfx_public_pkey(key_type, pt, 65);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    assert_int_equal(EVP_PKEY_public_check(ctx), 1);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(k);
}

static const uint8_t EC_HDR[] = {0x34, 0x45, 0x49, 0x43, 0x86, 0x41, 0x04};

/* wolfSSL step 1 / THM: volatile slot 04 with its public slot 04. */
static void test_generate_volatile_pair(void **state)
{
    st_card *card = *state;
    const struct st_card_stats *st = st_card_stats(card);
    uint64_t writes = st->ops[ST_OP_WRITE], gens = st->ops[ST_OP_KEYGEN];
    uint32_t generation = st_card_state(card)->generation;
    struct cfx_rsp r = cfx_expect(card, 0x9000, "81B9000003840104");
    assert_int_equal(r.len, 0x4D);
    assert_memory_equal(r.data, "\x84\x01\x04\x85\x01\x04", 6);
    assert_memory_equal(r.data + 6, EC_HDR, sizeof EC_HDR);
    assert_on_curve(ST_KEY_P256, r.data + 12);
    const struct st_object *priv = cfx_obj(card, ST_OBJ_PRIVATE_KEY, "04");
    const struct st_object *pub = cfx_obj(card, ST_OBJ_PUBLIC_KEY, "04");
    assert_int_equal(priv->value_len, 32);
    assert_int_equal(priv->state, ST_STATE_ACTIVATED);
    assert_int_equal(pub->value_len, 65);
    assert_memory_equal(pub->value, r.data + 12, 65);
    /* Volatile: nothing written, and gone after a reset. */
    assert_int_equal(st->ops[ST_OP_WRITE], writes);
    assert_int_equal(st->ops[ST_OP_KEYGEN], gens + 1);
    assert_int_equal(st_card_state(card)->generation, generation);
    /* READ PUBLIC KEY returns the same point (ATS/WS). */
    struct cfx_rsp rp = cfx_expect(card, 0x9000, "81CD00000385010400");
    assert_int_equal(rp.len, 0x47);
    assert_memory_equal(rp.data, r.data + 6, 0x47);
    /* A second generation gives another key. */
    struct cfx_rsp r2 = cfx_expect(card, 0x9000, "81B900000774056563646865");
    assert_memory_not_equal(r2.data + 12, r.data + 12, 65);
    st_card_power(card, ST_POWER_RESET, NULL, 0);
    cfx_expect(card, 0x9000, CFX_SELECT);
    assert_int_equal(cfx_obj(card, ST_OBJ_PRIVATE_KEY, "04")->value_len, 0);
    cfx_expect(card, 0x6985, "81CD0000038501 04");
}

/* Persistent key 01 and its public 01 change in one committed update. */
static void test_generate_persistent(void **state)
{
    st_card *card = *state;
    uint64_t writes = st_card_stats(card)->ops[ST_OP_WRITE];
    uint32_t generation = st_card_state(card)->generation;
    uint8_t old[65];
    memcpy(old, cfx_obj(card, ST_OBJ_PUBLIC_KEY, "01")->value, 65);
    struct cfx_rsp r = cfx_expect(card, 0x9000, "01B900000384010100");
    assert_int_equal(r.len, 0x4D);
    assert_memory_not_equal(r.data + 12, old, 65);
    assert_memory_equal(cfx_obj(card, ST_OBJ_PUBLIC_KEY, "01")->value, r.data + 12, 65);
    assert_int_equal(st_card_stats(card)->ops[ST_OP_WRITE], writes + 1);
    assert_int_equal(st_card_state(card)->generation, generation + 1);
    /* The new private key signs for the new public key. */
    uint8_t dig[32] = {0x42};
    cfx_expect(card, 0x9000, "812A00010D840101A1010391020001920104");
    struct cfx_rsp s = cfx_expect(card, 0x9000, "812B8001229E20%s", cfx_hex(dig, 32));
    EVP_PKEY *pub = cfx_public_pkey(ST_KEY_P256, r.data + 12, 65);
    assert_true(cfx_ecdsa_ok(pub, dig, 32, s.data + 3));
    EVP_PKEY_free(pub);

    /* No public key 07: the answer has no 85 TLV (0x4A bytes). */
    r = cfx_expect(card, 0x9000, "81B9000003840107");
    assert_int_equal(r.len, 0x4A);
    assert_memory_equal(r.data, "\x84\x01\x07", 3);
    assert_memory_equal(r.data + 3, EC_HDR, sizeof EC_HDR);
    assert_on_curve(ST_KEY_P256, r.data + 9);
    assert_int_equal(cfx_obj(card, ST_OBJ_PRIVATE_KEY, "07")->value_len, 32);
}

static void test_generate_brainpool(void **state)
{
    st_card *card = *state;
    struct cfx_rsp r = cfx_expect(card, 0x9000, "81B9000003840108");
    assert_int_equal(r.len, 0x4A);
    assert_on_curve(ST_KEY_BP256, r.data + 9);
}

/* RSA extension: 34 82 01 0D 49 82 01 09 81 82 01 00 <n> 82 03 <e>. */
static void test_generate_rsa(void **state)
{
    st_card *card = *state;
    struct cfx_rsp r = cfx_expect(card, 0x9000, "81B9000003840103");
    assert_int_equal(r.len, 6 + 273);
    assert_memory_equal(r.data, "\x84\x01\x03\x85\x01\x03", 6);
    assert_memory_equal(r.data + 6, "\x34\x82\x01\x0D\x49\x82\x01\x09\x81\x82\x01\x00", 12);
    assert_memory_equal(r.data + 6 + 12 + 256, "\x82\x03\x01\x00\x01", 5);
    /* The modulus is the one of the new public key object. */
    const struct st_object *pub = cfx_obj(card, ST_OBJ_PUBLIC_KEY, "03");
    EVP_PKEY *k = cfx_public_pkey(ST_KEY_RSA2048, pub->value, pub->value_len);
    BIGNUM *n = NULL;
    uint8_t nb[256];
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(BN_bn2binpad(n, nb, 256), 256);
    assert_memory_equal(nb, r.data + 18, 256);
    BN_free(n);
    EVP_PKEY_free(k);
    /* READ PUBLIC KEY uses the same layout. */
    struct cfx_rsp rp = cfx_expect(card, 0x9000, "81CD000003850103");
    assert_int_equal(rp.len, 273);
    assert_memory_equal(rp.data, r.data + 6, 273);
}

static void test_generate_errors(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x6985, "81B9000003840102"); /* brainpool 02: no keygen function */
    cfx_expect(card, 0x6985, "81B9000003840106");
    cfx_expect(card, 0x6A82, "81B9000003840199");
    cfx_expect(card, 0x6A82, "81B900000474026E6F");
    cfx_expect(card, 0x6A80, "81B9000003850104"); /* public reference */
    cfx_expect(card, 0x6A80, "81B9000006840104740101");
    cfx_expect(card, 0x6A80, "81B900000484010401");
    cfx_expect(card, 0x6A86, "81B9010003840104");
    cfx_expect(card, 0x6A86, "81B9000103840104");
    cfx_expect(card, 0x6700, "81B90000");
    /* A public key of another curve under the same ID: refused, nothing changed. */
    struct st_card_state *s = malloc(sizeof(*s));
    assert_non_null(s);
    memcpy(s, cfx_state(), sizeof(*s));
    for (size_t i = 0; i < ST_MAX_PUBLIC_KEYS; i++)
        if (s->pub[i].in_use && s->pub[i].id[0] == 0x04)
            s->pub[i].key_type = ST_KEY_BP256_VOLATILE;
    st_card *c2 = cfx_card(s);
    cfx_expect(c2, 0x6985, "81B9000003840104");
    assert_int_equal(cfx_obj(c2, ST_OBJ_PRIVATE_KEY, "04")->value_len, 0);
    st_card_free(c2);
    free(s);
}

/* Image I/O whose rename fails once armed: the commit of B9 / D8 fails. */
struct fault {
    int armed;
};

static int f_open(void *c, const char *p)
{
    return st_image_posix_io.open_tmp(st_image_posix_io.ctx, p);
}
static long f_write(void *c, int fd, const void *b, size_t n)
{
    return st_image_posix_io.write(st_image_posix_io.ctx, fd, b, n);
}
static int f_fsync(void *c, int fd)
{
    return st_image_posix_io.fsync(st_image_posix_io.ctx, fd);
}
static int f_close(void *c, int fd)
{
    return st_image_posix_io.close(st_image_posix_io.ctx, fd);
}
static int f_rename(void *c, const char *a, const char *b)
{
    if (((struct fault *)c)->armed) {
        errno = EIO;
        return -1;
    }
    return st_image_posix_io.rename(st_image_posix_io.ctx, a, b);
}
static int f_fsync_dir(void *c, const char *p)
{
    return st_image_posix_io.fsync_dir(st_image_posix_io.ctx, p);
}

static void test_commit_failure(void **state)
{
    char dir[] = "/tmp/st-keys-XXXXXX", path[64], tmp[80], err[256];
    struct fault f = {0};
    const struct st_image_io io = {f_open, f_write, f_fsync, f_close, f_rename, f_fsync_dir, &f};
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/card.img", dir);
    struct st_card_config cfg = {.image_path = path, .io = &io};
    st_card *card = st_card_new(&cfg, cfx_state(), err, sizeof err);
    assert_non_null(card);
    cfx_expect(card, 0x9000, CFX_SELECT);
    uint8_t old_priv[32], old_pub[65];
    memcpy(old_priv, cfx_obj(card, ST_OBJ_PRIVATE_KEY, "01")->value, 32);
    memcpy(old_pub, cfx_obj(card, ST_OBJ_PUBLIC_KEY, "01")->value, 65);
    f.armed = 1;
    struct cfx_rsp r = cfx_expect(card, 0x6581, "81B9000003840101");
    assert_int_equal(r.len, 0);
    assert_memory_equal(cfx_obj(card, ST_OBJ_PRIVATE_KEY, "01")->value, old_priv, 32);
    assert_memory_equal(cfx_obj(card, ST_OBJ_PUBLIC_KEY, "01")->value, old_pub, 65);
    /* PUT PUBLIC KEY into the persistent slot 05 fails the same way. */
    cfx_expect(card, 0x9000, "8124000203850105");
    cfx_expect(card, 0x6581, "81D880024734454943864104%s", cfx_hex(old_pub + 1, 64));
    assert_int_equal(cfx_obj(card, ST_OBJ_PUBLIC_KEY, "05")->value_len, 0);
    /* Volatile slot 04 needs no commit. */
    cfx_expect(card, 0x9000, "81B9000003840104");
    f.armed = 0;
    cfx_expect(card, 0x9000, "81B9000003840101");
    st_card_free(card);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    unlink(path);
    rmdir(dir);
}

static void test_read_public_key(void **state)
{
    st_card *card = *state;
    const struct st_object *pub = cfx_obj(card, ST_OBJ_PUBLIC_KEY, "01");
    struct cfx_rsp r = cfx_expect(card, 0x9000, "81CD0000038501 01 00");
    assert_int_equal(r.len, 0x47);
    assert_memory_equal(r.data, EC_HDR, sizeof EC_HDR);
    assert_memory_equal(r.data + 6, pub->value, 65);
    r = cfx_expect(card, 0x9000, "01CD0000087506636C69656E74");
    assert_memory_equal(r.data + 6, pub->value, 65);
    cfx_expect(card, 0x6985, "81CD000003850105"); /* empty */
    cfx_expect(card, 0x6982, "81CD00000385010A"); /* no read right */
    cfx_expect(card, 0x6A82, "81CD000003850199");
    cfx_expect(card, 0x6A80, "81CD000003840101"); /* private reference */
    cfx_expect(card, 0x6A80, "81CD000002850101"); /* truncated */
    cfx_expect(card, 0x6A86, "81CD800003850101");
    cfx_expect(card, 0x6700, "81CD0000");
}

/* THM's exact APDUs (trace thales-cpputest-t0.log #6, #7), then read back. */
static void test_put_thales_vector(void **state)
{
    st_card *card = *state;
    const char *xy = "9E5B7F778B7997617C8993B6406608EFE2D3F2D6751D6B3F5F5320FFFD6A7DC9"
                     "A8F6C5C1474F64D668364AE2ED8DC4C1C6C4767423B013937B4499F52C4F89A0";
    uint64_t writes = st_card_stats(card)->ops[ST_OP_WRITE];
    cfx_expect(card, 0x9000, "00A4040007A0000005590010"); /* THM uses the basic channel */
    cfx_expect(card, 0x9000, "002400000385010500");
    cfx_expect(card, 0x9000, "00D880004734454943864104%s00", xy);
    struct cfx_rsp r = cfx_expect(card, 0x9000, "00CD000003850105");
    assert_string_equal(cfx_hex(r.data + 7, 64), xy);
    assert_int_equal(st_card_stats(card)->ops[ST_OP_WRITE], writes + 1); /* persistent slot */
    assert_int_equal(cfx_obj(card, ST_OBJ_PUBLIC_KEY, "05")->state, ST_STATE_ACTIVATED);
}

/* Split over blocks (P1=00 ... 80), BER length of 34, volatile slot, brainpool slot. */
static void test_put_blocks_and_forms(void **state)
{
    st_card *card = *state;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    EVP_PKEY *bk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "brainpoolP256r1");
    uint8_t pt[65], bpt[65];
    cfx_ec_point(k, pt);
    cfx_ec_point(bk, bpt);
    char all[200];
    snprintf(all, sizeof all, "34454943864104%s", cfx_hex(pt + 1, 64));
    cfx_expect(card, 0x9000, "8124000103850105");
    cfx_expect(card, 0x9000, "81D8000103%.6s", all);
    cfx_expect(card, 0x9000, "81D8000120%.64s", all + 6);
    cfx_expect(card, 0x9000, "81D8800124%s", all + 70);
    assert_memory_equal(cfx_obj(card, ST_OBJ_PUBLIC_KEY, "05")->value, pt, 65);
    /* The open session takes another key, here with the BER length 34 81 45. */
    EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    uint8_t pt2[65];
    cfx_ec_point(k2, pt2);
    cfx_expect(card, 0x9000, "81D88001483481454943864104%s", cfx_hex(pt2 + 1, 64));
    assert_memory_equal(cfx_obj(card, ST_OBJ_PUBLIC_KEY, "05")->value, pt2, 65);
    /* Brainpool slot 06, by label "bppeer". */
    cfx_expect(card, 0x9000, "8124000308750662707065657200");
    cfx_expect(card, 0x9000, "81D880034734454943864104%s", cfx_hex(bpt + 1, 64));
    assert_memory_equal(cfx_obj(card, ST_OBJ_PUBLIC_KEY, "06")->value, bpt, 65);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k);
    EVP_PKEY_free(bk);
}

static void test_put_errors(void **state)
{
    st_card *card = *state;
    const struct st_object *pub01 = cfx_obj(card, ST_OBJ_PUBLIC_KEY, "01");
    char good[160], bad[160];
    uint8_t off[65];
    snprintf(good, sizeof good, "34454943864104%s", cfx_hex(pub01->value + 1, 64));
    memcpy(off, pub01->value, 65);
    off[64] ^= 1; /* Y changed: off the curve */
    snprintf(bad, sizeof bad, "34454943864104%s", cfx_hex(off + 1, 64));
    cfx_expect(card, 0x6985, "812400010385010A"); /* no update right */
    cfx_expect(card, 0x6985, "8124000103850101"); /* read only */
    cfx_expect(card, 0x6A82, "8124000103850199");
    cfx_expect(card, 0x6A80, "8124000103840105");
    cfx_expect(card, 0x9000, "8124000106750470656572"); /* by label "peer" */
    cfx_expect(card, 0x6A80, "81D8800147%s", bad);
    cfx_expect(card, 0x6A80, "81D8800147%.8s87%s", good, good + 10); /* tag 87 */
    cfx_expect(card, 0x6A80, "81D8800148%s00", good);                /* trailing byte */
    cfx_expect(card, 0x6A80, "81D880012734254923862102%s", cfx_hex(pub01->value + 1, 32));
    cfx_expect(card, 0x6A80, "81D8800146%.140s", good); /* short point */
    cfx_expect(card, 0x6A80, "81D880010435020000");     /* not 34 */
    cfx_expect(card, 0x6700, "81D80001");
    cfx_expect(card, 0x6A86, "81D84001%02X%s", 0x47, good);
    /* A point of the other curve into the P-256 slot 05 (rule 8.8). */
    EVP_PKEY *bk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "brainpoolP256r1");
    uint8_t bpt[65];
    cfx_ec_point(bk, bpt);
    cfx_expect(card, 0x6A80, "81D880014734454943864104%s", cfx_hex(bpt + 1, 64));
    EVP_PKEY_free(bk);
    /* Blocks beyond any public key TLV. */
    static const uint8_t zeros[200];
    cfx_expect(card, 0x9000, "81D80001C8%s", cfx_hex(zeros, 200));
    cfx_expect(card, 0x6A80, "81D80001C8%s", cfx_hex(zeros, 200));
    /* After all that the slot is still empty, and a good key goes in. */
    assert_int_equal(cfx_obj(card, ST_OBJ_PUBLIC_KEY, "05")->value_len, 0);
    cfx_expect(card, 0x9000, "81D8800147%s", good);
    /* P-256 point into brainpool slot 06. */
    cfx_expect(card, 0x9000, "8124000203850106");
    cfx_expect(card, 0x6A80, "81D8800247%s", good);
}

/* RSA extension into slot 09 (two blocks), then verify with it. */
static void test_put_rsa(void **state)
{
    st_card *card = *state;
    struct cfx_rsp pk = cfx_expect(card, 0x9000, "81CD000003850103");
    assert_int_equal(pk.len, 273);
    cfx_expect(card, 0x9000, "8124000003850109");
    cfx_expect(card, 0x9000, "81D80000C8%s", cfx_hex(pk.data, 200));
    cfx_expect(card, 0x9000, "81D88000%02X%s", 73, cfx_hex(pk.data + 200, 73));
    struct cfx_rsp back = cfx_expect(card, 0x9000, "81CD000003850109");
    assert_memory_equal(back.data, pk.data, 273);
    uint8_t dig[32] = {7};
    cfx_expect(card, 0x9000, "812A00000D840103A1010391020001920101");
    struct cfx_rsp s = cfx_expect(card, 0x9000, "812B8000229E20%s", cfx_hex(dig, 32));
    cfx_expect(card, 0x9000, "812C00000D850109A1010391020001920101");
    cfx_expect(card, 0x9000, "812D0000833381%02X%s", 128, cfx_hex(s.data + 3, 128));
    cfx_expect(card, 0x9000, "812D8000A59E20%s3381%02X%s", cfx_hex(dig, 32), 128,
               cfx_hex(s.data + 131, 128));
    /* An even exponent is no RSA key. */
    pk.data[272] = 0x02;
    cfx_expect(card, 0x9000, "81D80000C8%s", cfx_hex(pk.data, 200));
    cfx_expect(card, 0x6A80, "81D88000%02X%s", 73, cfx_hex(pk.data + 200, 73));
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

/* No answer of the crypto commands carries a private key or PSK value (IoT.04 I9). */
static void test_no_secret_leaves(void **state)
{
    st_card *card = *state;
    EVP_PKEY *server = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    uint8_t pt[65], dig[32] = {9};
    cfx_ec_point(server, pt);
    char cmds[][200] = {
        "81B9000003840104",
        "8124000003850105",
        "",
        "8146000006840104850105",
        "8146000006840101850105",
        "812A00000D840101A1010391020001920104",
        "",
        "812A00010D840103A1010391020001920102",
        "",
        "81480100|860110 D203616263 D301FF",
        "81480200|860111 D40101 D203616263 D301FF",
        "814A0000|860110 91020001",
        "814A0100|860111 D30200FF",
        "81CD000003850101",
        "8184000000",
    };
    snprintf(cmds[2], sizeof cmds[2], "81D880004734454943864104%s", cfx_hex(pt + 1, 64));
    snprintf(cmds[6], sizeof cmds[6], "812B8000229E20%s", cfx_hex(dig, 32));
    snprintf(cmds[8], sizeof cmds[8], "812B8001229E20%s", cfx_hex(dig, 32));
    struct cfx_rsp all[sizeof cmds / sizeof cmds[0]];
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        all[i] = cfx_expect(card, 0x9000, "%s", cmds[i]);
    const struct st_card_state *st = st_card_state(card);
    for (size_t k = 0; k < ST_MAX_PRIVATE_KEYS; k++) {
        const struct st_object *o = &st->priv[k];
        if (!o->in_use || o->value_len == 0)
            continue;
        /* EC: the scalar; RSA: 32 bytes inside the private exponent of the PKCS#8. */
        const uint8_t *v = o->value_len == 32 ? o->value : o->value + 400;
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
            assert_false(contains(all[i].data, all[i].len, v, 16));
    }
    for (size_t k = 0; k < ST_MAX_SECRET_KEYS; k++) {
        const struct st_object *o = &st->secret[k];
        for (size_t i = 0; o->in_use && o->value_len >= 16 && i < sizeof cmds / sizeof cmds[0]; i++)
            assert_false(contains(all[i].data, all[i].len, o->value, 16));
    }
    EVP_PKEY_free(server);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_generate_volatile_pair),
        T(test_generate_persistent),
        T(test_generate_brainpool),
        T(test_generate_rsa),
        T(test_generate_errors),
        cmocka_unit_test(test_commit_failure),
        T(test_read_public_key),
        T(test_put_thales_vector),
        T(test_put_blocks_and_forms),
        T(test_put_errors),
        T(test_put_rsa),
        T(test_no_secret_leaves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
