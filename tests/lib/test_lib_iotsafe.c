/*
 * The IoT SAFE client end to end against simtrust-card in-process: every
 * command of lib/core/iotsafe_*.c, with results checked independently by
 * OpenSSL (signatures, ECDH, TLS 1.2 PRF, HKDF) or against the card's state.
 *
 * The whole suite runs once per link configuration (cfgs[] below): direct
 * answers and T=0 style (61xx + GET RESPONSE), a u-blox-like 120-byte
 * max_apdu and a 48-byte one that forces multi-block Update/D8 chunking and
 * ST_E_UNSUPPORTED where a command has no blocks, CLA 00 on the basic
 * channel with the 33 40 signature form (ORA/NTT-like card), and sessions
 * without the extra closes.
 *
 * IoT.04: B5/B6 (APDU interface), D3/I4 (capabilities), D9/I8 (credential
 * list), E1/E2/F2 (signatures, three modes), E3 (certificate files), F3
 * (verification), E6/F4/F7 (ECDHE), J4/F5 (PRF), J5/F6 (HKDF).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "card_fixture.h"
#include "inproc_transport.h"
#include "simtrust/iotsafe.h"

struct cfg {
    const char *name;
    bool t0;
    size_t max_apdu; /* 0: 261 */
    uint8_t cla;
    uint16_t flags;
    uint8_t card_sig_form;
};

static const struct cfg cfgs[] = {
    {"direct", false, 0, ST_CLA_PROPRIETARY, 0, ST_SIG_FORM_2BYTE},
    {"t0", true, 0, ST_CLA_PROPRIETARY, 0, ST_SIG_FORM_2BYTE},
    {"ublox120-t0", true, 120, ST_CLA_PROPRIETARY, 0, ST_SIG_FORM_2BYTE},
    {"tiny48", false, 48, ST_CLA_PROPRIETARY, 0, ST_SIG_FORM_2BYTE},
    {"iso-basic-sig1", false, 0, ST_CLA_ISO, ST_IOTSAFE_BASIC_CHANNEL | ST_IOTSAFE_SIG_LEN1,
     ST_SIG_FORM_1BYTE},
    {"no-close-t0", true, 0, ST_CLA_ISO, ST_IOTSAFE_NO_PRECLOSE | ST_IOTSAFE_KEEP_SESSION,
     ST_SIG_FORM_2BYTE},
};

static const struct cfg *C;
static struct st_card_state *g_state;

static struct {
    st_card *card;
    struct st_inproc ip;
    struct st_transport tr;
    struct st_sim sim;
    struct st_iotsafe ios;
} F;

#define FILE_CERT_LEN 600
#define FILE_CHAIN_LEN ST_FILE_MAX

static uint8_t file_byte(uint8_t id, size_t i)
{
    return (uint8_t)(i * 7 + id + (i >> 8));
}

static void add_file(struct st_card_state *s, uint8_t id, const char *label, size_t len,
                     uint8_t access)
{
    struct st_object *o = st_objects_alloc(s, ST_OBJ_FILE);
    assert_non_null(o);
    o->id_len = 1;
    o->id[0] = id;
    o->label_len = (uint8_t)strlen(label);
    memcpy(o->label, label, o->label_len);
    o->access = access;
    o->usage = ST_FILE_CERTIFICATE;
    for (size_t i = 0; i < len; i++)
        o->value[i] = file_byte(id, i);
    o->value_len = (uint16_t)len;
    o->state = len ? ST_STATE_ACTIVATED : ST_STATE_EMPTY;
}

/* The fixture card plus files: 7 private, 8 public, 4 secret keys, 4 files. */
static const struct st_card_state *state(void)
{
    if (g_state == NULL) {
        g_state = malloc(sizeof(*g_state));
        assert_non_null(g_state);
        memcpy(g_state, cfx_state(), sizeof(*g_state));
        add_file(g_state, 0x02, "cert", FILE_CERT_LEN, ST_ACCESS_READ);
        add_file(g_state, 0x03, "chain", FILE_CHAIN_LEN, ST_ACCESS_READ);
        add_file(g_state, 0x0E, "empty", 0, ST_ACCESS_READ);
        add_file(g_state, 0x0F, "hidden", 10, 0);
    }
    return g_state;
}

/* APDU counters from the trace hook. */
static struct {
    unsigned get_response, list_next, commands;
} T;

static void count_apdus(void *arg, enum st_trace_dir dir, const uint8_t *b, size_t n)
{
    (void)arg;
    if (dir != ST_TRACE_COMMAND || n < 4)
        return;
    T.commands++;
    if (b[1] == 0xC0)
        T.get_response++;
    if (b[1] == 0xCB && b[2] == 0x01 && b[3] == 0x01)
        T.list_next++;
    /* Every command respects the link's size and the configured class. */
    assert_true(n <= (C->max_apdu ? C->max_apdu : ST_SHORT_APDU_MAX));
    if (b[1] != 0x70 && b[1] != 0xA4 && b[1] != 0xC0)
        assert_int_equal(b[0] & 0x80, C->cla);
}

static int setup(void **st)
{
    (void)st;
    struct st_card_config cc = {0};
    struct st_iotsafe_config ic;
    char err[200];
    g_state = (struct st_card_state *)state();
    g_state->sig_form = C->card_sig_form;
    cc.t0_style = C->t0;
    F.card = st_card_new(&cc, g_state, err, sizeof err);
    assert_non_null(F.card);
    st_inproc_init(&F.ip, F.card, &F.tr, C->max_apdu);
    st_sim_init(&F.sim, &F.tr);
    memset(&T, 0, sizeof T);
    st_sim_set_trace(&F.sim, count_apdus, NULL);
    st_iotsafe_config_default(&ic);
    ic.cla = C->cla;
    ic.flags = C->flags;
    assert_int_equal(st_iotsafe_init(&F.ios, &F.sim, &ic), ST_OK);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_OK);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    if (st_iotsafe_is_open(&F.ios))
        assert_int_equal(st_iotsafe_close(&F.ios), ST_OK);
    st_card_free(F.card);
    return 0;
}

static struct st_iotsafe_ref id_ref(uint8_t id)
{
    struct st_iotsafe_ref r;
    assert_int_equal(st_iotsafe_ref_id(&r, &id, 1), ST_OK);
    return r;
}

static struct st_iotsafe_ref label_ref(const char *label)
{
    struct st_iotsafe_ref r;
    assert_int_equal(st_iotsafe_ref_label(&r, label, strlen(label)), ST_OK);
    return r;
}

/* Whether a command of lc data bytes (plus Le) fits this configuration's link. */
static bool fits(size_t lc, bool le)
{
    size_t max = C->max_apdu ? C->max_apdu : ST_SHORT_APDU_MAX;
    return lc <= 255 && 5 + lc + (le ? 1 : 0) <= max;
}

static void sha(const EVP_MD *md, const void *p, size_t n, uint8_t *out)
{
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(p, n, out, &len, md, NULL), 1);
}

static EVP_PKEY *card_public(uint8_t id)
{
    const struct st_object *o = cfx_obj(F.card, ST_OBJ_PUBLIC_KEY, cfx_hex(&id, 1));
    return cfx_public_pkey(o->key_type, o->value, o->value_len);
}

/* ---- Session ---- */

static void test_open_close(void **st)
{
    (void)st;
    bool basic = C->flags & ST_IOTSAFE_BASIC_CHANNEL;
    assert_true(st_iotsafe_is_open(&F.ios));
    assert_int_equal(st_iotsafe_channel(&F.ios), basic ? 0 : 1);
    assert_ptr_equal(st_iotsafe_sim(&F.ios), &F.sim);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_E_STATE);
    assert_int_equal(st_iotsafe_close(&F.ios), ST_OK);
    uint8_t b[4];
    assert_int_equal(st_iotsafe_get_random(&F.ios, b, 4), ST_E_STATE);
    assert_int_equal(st_iotsafe_close(&F.ios), ST_E_STATE);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_OK);

    /* An absent applet: 6A82, and the channel opened for it is closed again. */
    struct st_iotsafe_config ic;
    struct st_iotsafe other;
    st_iotsafe_config_default(&ic);
    ic.flags = C->flags;
    memcpy(ic.aid, "\xA0\x00\x00\x05\x59\xFF\xFF", 7);
    assert_int_equal(st_iotsafe_init(&other, &F.sim, &ic), ST_OK);
    assert_int_equal(st_iotsafe_open(&other), ST_E_CARD_NOT_FOUND);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x6A82);
    assert_false(st_iotsafe_is_open(&other));
    if (!basic) {
        uint8_t ch = 0;
        assert_int_equal(st_sim_open_channel(&F.sim, &ch), ST_OK);
        assert_int_equal(ch, 2);
        assert_int_equal(st_sim_close_channel(&F.sim, ch), ST_OK);
    }
    /* A second client of the same applet on its own channel. */
    ic = F.ios.cfg;
    assert_int_equal(st_iotsafe_init(&other, &F.sim, &ic), ST_OK);
    assert_int_equal(st_iotsafe_open(&other), ST_OK);
    if (!basic)
        assert_int_equal(st_iotsafe_channel(&other), 2);
    assert_int_equal(st_iotsafe_get_random(&other, b, 4), ST_OK);
    assert_int_equal(st_iotsafe_close(&other), ST_OK);

    /* Bad configurations. */
    ic.aid_len = 0;
    assert_int_equal(st_iotsafe_init(&other, &F.sim, &ic), ST_E_ARG);
    ic.aid_len = 7;
    ic.cla = 0xA0;
    assert_int_equal(st_iotsafe_init(&other, &F.sim, &ic), ST_E_ARG);
    ic.cla = 0x80;
    ic.flags = ST_IOTSAFE_TRANSPORT_CHANNEL;
    assert_int_equal(st_iotsafe_init(&other, &F.sim, &ic), ST_OK);
    assert_int_equal(st_iotsafe_open(&other), ST_E_UNSUPPORTED);
    assert_string_not_equal(st_sim_detail(&F.sim), "");
}

/* ---- Discovery ---- */

static void test_app_info(void **st)
{
    (void)st;
    struct st_iotsafe_app_info a;
    assert_int_equal(st_iotsafe_get_app_info(&F.ios, &a), ST_OK);
    assert_int_equal(a.present, 0x0FFF);
    assert_int_equal(a.version, 1);
    assert_int_equal(a.proprietary_id_len, 32);
    assert_int_equal(a.max_files, ST_MAX_FILES);
    assert_int_equal(a.max_private_keys, ST_MAX_PRIVATE_KEYS);
    assert_int_equal(a.max_public_keys, ST_MAX_PUBLIC_KEYS);
    assert_int_equal(a.max_secret_keys, ST_MAX_SECRET_KEYS);
    assert_int_equal(a.functions, 0x0F);
    assert_int_equal(a.hash_algos, 0x0007);
    assert_int_equal(a.sig_algos, 0x07);
    assert_int_equal(a.key_agreement, 0x01);
    assert_int_equal(a.key_derivation, 0x03);
    assert_true(a.max_sessions >= 2);
}

static const struct st_object *card_object(const struct st_iotsafe_object *o)
{
    static const enum st_obj_kind k[] = {ST_OBJ_PRIVATE_KEY, ST_OBJ_PUBLIC_KEY, ST_OBJ_FILE,
                                         ST_OBJ_SECRET_KEY};
    return st_objects_find(g_state, k[o->kind], false, o->id, o->id_len);
}

static void check_object(const struct st_iotsafe_object *o)
{
    const struct st_object *c = card_object(o);
    if (c == NULL)
        fail_msg("object %s of kind %d not on the card", cfx_hex(o->id, o->id_len), o->kind);
    assert_int_equal(o->label_len, c->label_len);
    assert_memory_equal(o->label, c->label, c->label_len);
    assert_true(o->present & ST_IOTSAFE_OBJ_ACCESS);
    assert_int_equal(o->access, c->access);
    assert_int_equal(o->state, c->value_len ? 1 : 0);
    if (o->kind == ST_IOTSAFE_FILE) {
        assert_true(o->present & ST_IOTSAFE_OBJ_SIZE);
        assert_int_equal(o->size, c->value_len);
        assert_int_equal(o->usage, c->usage);
    } else {
        assert_int_equal(o->key_type, c->key_type);
        assert_int_equal(o->functions, c->functions);
        if (o->kind != ST_IOTSAFE_SECRET_KEY)
            assert_int_equal(o->hash_algos, c->hash_algos);
        else
            assert_int_equal(o->key_derivation, c->key_derivation);
    }
}

static size_t card_count(void)
{
    size_t n = 0;
    for (int k = 0; k < ST_OBJ_KINDS; k++) {
        const struct st_object *t = st_objects_table(g_state, (enum st_obj_kind)k);
        for (size_t i = 0; i < st_objects_capacity((enum st_obj_kind)k); i++)
            n += t[i].in_use;
    }
    return n;
}

static int stop_at_third(void *arg, const struct st_iotsafe_object *o)
{
    (void)o;
    return ++*(int *)arg == 3 ? 42 : ST_OK;
}

static void test_object_list(void **st)
{
    (void)st;
    struct st_iotsafe_object objs[64];
    size_t n = 64;
    assert_int_equal(st_iotsafe_list_objects(&F.ios, objs, &n), ST_OK);
    assert_int_equal(n, card_count()); /* 23: needs 6300 continuations */
    int kinds[4] = {0};
    for (size_t i = 0; i < n; i++) {
        check_object(&objs[i]);
        kinds[objs[i].kind]++;
    }
    assert_int_equal(kinds[ST_IOTSAFE_PRIVATE_KEY], 7);
    assert_int_equal(kinds[ST_IOTSAFE_PUBLIC_KEY], 8);
    assert_int_equal(kinds[ST_IOTSAFE_SECRET_KEY], 4);
    assert_int_equal(kinds[ST_IOTSAFE_FILE], 4);
    assert_true(T.list_next >= 1); /* 6300 + P2 = 01 continuations were followed */
    size_t small = 5;
    assert_int_equal(st_iotsafe_list_objects(&F.ios, objs, &small), ST_E_BUFFER);
    assert_int_equal(small, 5);
    int calls = 0;
    assert_int_equal(st_iotsafe_foreach_object(&F.ios, stop_at_third, &calls), 42);
    assert_int_equal(calls, 3);
    /* The next walk starts over. */
    n = 64;
    assert_int_equal(st_iotsafe_list_objects(&F.ios, objs, &n), ST_OK);
    assert_int_equal(n, card_count());
}

static void test_get_find(void **st)
{
    (void)st;
    struct st_iotsafe_object o;
    struct st_iotsafe_ref r = label_ref("client");
    assert_int_equal(st_iotsafe_get_object(&F.ios, ST_IOTSAFE_PRIVATE_KEY, &r, &o), ST_OK);
    assert_int_equal(o.id_len, 1);
    assert_int_equal(o.id[0], 0x01);
    assert_int_equal(o.key_type, ST_KEY_P256);
    check_object(&o);
    r = id_ref(0x02);
    assert_int_equal(st_iotsafe_get_object(&F.ios, ST_IOTSAFE_FILE, &r, &o), ST_OK);
    assert_int_equal(o.size, FILE_CERT_LEN);
    assert_int_equal(o.usage, ST_FILE_CERTIFICATE);
    r = label_ref("psk2");
    assert_int_equal(st_iotsafe_find_object(&F.ios, ST_IOTSAFE_SECRET_KEY, &r, &o), ST_OK);
    assert_int_equal(o.id[0], 0x11);
    r = label_ref("peer");
    assert_int_equal(st_iotsafe_find_object(&F.ios, ST_IOTSAFE_PUBLIC_KEY, &r, &o), ST_OK);
    assert_int_equal(o.id[0], 0x05);
    assert_int_equal(o.state, 0);
    r = id_ref(0x77);
    assert_int_equal(st_iotsafe_get_object(&F.ios, ST_IOTSAFE_PUBLIC_KEY, &r, &o),
                     ST_E_CARD_NOT_FOUND);
    assert_int_equal(st_iotsafe_find_object(&F.ios, ST_IOTSAFE_PUBLIC_KEY, &r, &o), ST_E_NOT_FOUND);
    assert_int_equal(st_iotsafe_find_object(&F.ios, 9, &r, &o), ST_E_ARG);
}

/* ---- Files ---- */

static void check_file(uint8_t id, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != file_byte(id, i))
            fail_msg("file %02X byte %zu: %02X", id, i, b[i]);
}

static void test_read_file(void **st)
{
    (void)st;
    static uint8_t buf[FILE_CHAIN_LEN + 16];
    size_t n = sizeof buf;
    struct st_iotsafe_ref r = id_ref(0x02);
    assert_int_equal(st_iotsafe_read_file(&F.ios, &r, buf, &n), ST_OK);
    assert_int_equal(n, FILE_CERT_LEN);
    check_file(0x02, buf, n);
    r = label_ref("chain");
    n = sizeof buf;
    assert_int_equal(st_iotsafe_read_file(&F.ios, &r, buf, &n), ST_OK);
    assert_int_equal(n, FILE_CHAIN_LEN);
    check_file(0x03, buf, n);
    r = id_ref(0x03);
    n = 100;
    unsigned before = (unsigned)st_card_stats(F.card)->apdus;
    assert_int_equal(st_iotsafe_read_file(&F.ios, &r, buf, &n), ST_E_BUFFER);
    assert_int_equal(n, 100);
    /* Refused after GET DATA, before any READ FILE. */
    assert_true(st_card_stats(F.card)->apdus - before <= 2);
    r = id_ref(0x0E);
    n = sizeof buf;
    assert_int_equal(st_iotsafe_read_file(&F.ios, &r, buf, &n), ST_OK);
    assert_int_equal(n, 0);
    r = id_ref(0x0F);
    n = sizeof buf;
    assert_int_equal(st_iotsafe_read_file(&F.ios, &r, buf, &n), ST_E_CARD_SECURITY);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x6982);
    r = id_ref(0x55);
    assert_int_equal(st_iotsafe_read_file(&F.ios, &r, buf, &n), ST_E_CARD_NOT_FOUND);

    /* Streaming: one chunk at an offset; the end gives 0 bytes. */
    r = id_ref(0x02);
    n = 100;
    assert_int_equal(st_iotsafe_read_file_at(&F.ios, &r, 590, buf, &n), ST_OK);
    assert_int_equal(n, 10);
    assert_int_equal(buf[0], file_byte(0x02, 590));
    n = 100;
    assert_int_equal(st_iotsafe_read_file_at(&F.ios, &r, 600, buf, &n), ST_OK);
    assert_int_equal(n, 0);
    n = 50;
    assert_int_equal(st_iotsafe_read_file_at(&F.ios, &r, 0, buf, &n), ST_OK);
    assert_int_equal(n, 50);
    check_file(0x02, buf, 50);

    /* ORA's Le = 50: 12 chunks for 600 bytes. */
    struct st_iotsafe_config ic = F.ios.cfg;
    struct st_iotsafe ora;
    ic.read_le = 50;
    assert_int_equal(st_iotsafe_init(&ora, &F.sim, &ic), ST_OK);
    assert_int_equal(st_iotsafe_open(&ora), ST_OK);
    st_card_reset_stats(F.card);
    n = sizeof buf;
    assert_int_equal(st_iotsafe_read_file(&ora, &r, buf, &n), ST_OK);
    assert_int_equal(n, FILE_CERT_LEN);
    check_file(0x02, buf, n);
    assert_true(st_card_stats(F.card)->apdus >= 13);
    if (C->t0) /* READ FILE is case 4: every chunk came through GET RESPONSE */
        assert_true(T.get_response >= 12);
    else
        assert_int_equal(T.get_response, 0);
    assert_int_equal(st_iotsafe_close(&ora), ST_OK);
}

static void test_random(void **st)
{
    (void)st;
    uint8_t a[300], b[300];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(st_iotsafe_get_random(&F.ios, a, 1), ST_OK);
    assert_int_equal(st_iotsafe_get_random(&F.ios, a, 256), ST_OK);
    assert_int_equal(st_iotsafe_get_random(&F.ios, b, 300), ST_OK);
    assert_memory_not_equal(a, b, 256);
    assert_int_equal(st_iotsafe_get_random(&F.ios, b, 0), ST_OK);
    assert_int_equal(st_iotsafe_get_random(&F.ios, NULL, 3), ST_E_ARG);
}

/* ---- Signatures ---- */

static void sign_and_check(uint8_t key_id, const EVP_MD *md, uint8_t alg)
{
    uint8_t dig[64], sig[300];
    size_t dlen = (size_t)EVP_MD_get_size(md), sl = sizeof sig;
    sha(md, "hello world", 11, dig);
    struct st_iotsafe_ref key = id_ref(key_id);
    const struct st_iotsafe_sig_input in = {
        .mode = ST_IOTSAFE_MODE_PAD_SIGN, .alg = alg, .data = dig, .len = dlen};
    int rc = st_iotsafe_sign(&F.ios, &key, &in, sig, &sl);
    if (!fits(2 + dlen, true)) {
        assert_int_equal(rc, ST_E_UNSUPPORTED);
        return;
    }
    assert_int_equal(rc, ST_OK);
    EVP_PKEY *pub = card_public(key_id);
    if (alg == ST_IOTSAFE_SIG_ECDSA) {
        assert_int_equal(sl, 64);
        assert_true(cfx_ecdsa_ok(pub, dig, dlen, sig));
        /* The DER helper's output verifies too. */
        uint8_t der[80];
        size_t dl = sizeof der;
        assert_int_equal(st_ecdsa_raw_to_der(sig, 64, der, &dl), ST_OK);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
        assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
        assert_int_equal(EVP_PKEY_verify(ctx, der, dl, dig, dlen), 1);
        EVP_PKEY_CTX_free(ctx);
    } else {
        assert_int_equal(sl, 256);
        assert_true(cfx_rsa_ok(pub, alg == ST_IOTSAFE_SIG_RSA_PSS, dig, dlen, sig, sl));
    }
    EVP_PKEY_free(pub);
}

static void test_sign_digest(void **st)
{
    (void)st;
    sign_and_check(0x01, EVP_sha256(), ST_IOTSAFE_SIG_ECDSA);
    sign_and_check(0x01, EVP_sha384(), ST_IOTSAFE_SIG_ECDSA);
    sign_and_check(0x01, EVP_sha512(), ST_IOTSAFE_SIG_ECDSA);
    sign_and_check(0x02, EVP_sha256(), ST_IOTSAFE_SIG_ECDSA); /* brainpoolP256r1 */
    sign_and_check(0x03, EVP_sha256(), ST_IOTSAFE_SIG_RSA_PKCS1);
    sign_and_check(0x03, EVP_sha384(), ST_IOTSAFE_SIG_RSA_PSS);
    /* By label, through the shorthand. */
    uint8_t dig[32], sig[64];
    size_t sl = sizeof sig;
    sha(EVP_sha256(), "abc", 3, dig);
    struct st_iotsafe_ref key = label_ref("client");
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &key, dig, 32, sig, &sl), ST_OK);
    EVP_PKEY *pub = card_public(0x01);
    assert_true(cfx_ecdsa_ok(pub, dig, 32, sig));
    EVP_PKEY_free(pub);
    /* Buffer too small for the signature: nothing written. */
    uint8_t small[10] = {0};
    sl = sizeof small;
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &key, dig, 32, small, &sl), ST_E_BUFFER);
    assert_int_equal(sl, 10);
    /* Card refusals. */
    sl = sizeof sig;
    key = id_ref(0x06); /* no sign function */
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &key, dig, 32, sig, &sl), ST_E_CARD_CONDITIONS);
    key = id_ref(0x66);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &key, dig, 32, sig, &sl), ST_E_CARD_NOT_FOUND);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x6A82);
}

static void test_sign_full_text(void **st)
{
    (void)st;
    static uint8_t msg[1000];
    static const size_t lens[] = {0, 11, 127, 128, 200, 1000};
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 13);
    struct st_iotsafe_ref key = id_ref(0x01);
    EVP_PKEY *pub = card_public(0x01);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t dig[32], sig[64];
        size_t sl = sizeof sig;
        const struct st_iotsafe_sig_input in = {
            .mode = ST_IOTSAFE_MODE_FULL_TEXT, .data = msg, .len = lens[i]};
        st_card_reset_stats(F.card);
        assert_int_equal(st_iotsafe_sign(&F.ios, &key, &in, sig, &sl), ST_OK);
        sha(EVP_sha256(), msg, lens[i], dig);
        if (!cfx_ecdsa_ok(pub, dig, 32, sig))
            fail_msg("full-text signature of %zu bytes does not verify", lens[i]);
        /* Small links need more Update blocks. */
        if (lens[i] == 1000 && C->max_apdu == 48)
            assert_true(st_card_stats(F.card)->apdus > 20);
    }
    EVP_PKEY_free(pub);
    /* SHA-384 full text. */
    uint8_t dig[48], sig[64];
    size_t sl = sizeof sig;
    const struct st_iotsafe_sig_input in = {
        .mode = ST_IOTSAFE_MODE_FULL_TEXT, .hash = ST_IOTSAFE_HASH_SHA384, .data = msg, .len = 300};
    assert_int_equal(st_iotsafe_sign(&F.ios, &key, &in, sig, &sl), ST_OK);
    sha(EVP_sha384(), msg, 300, dig);
    pub = card_public(0x01);
    assert_true(cfx_ecdsa_ok(pub, dig, 48, sig));
    EVP_PKEY_free(pub);
}

/* SHA-256 compression of one block, to get a mid-state for mode 02. */
static uint32_t ror32(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, h, sizeof a);
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = ror32(a[4], 6) ^ ror32(a[4], 11) ^ ror32(a[4], 25);
        uint32_t ch = (a[4] & a[5]) ^ (~a[4] & a[6]);
        uint32_t t1 = a[7] + s1 + ch + k[i] + w[i];
        uint32_t s0 = ror32(a[0], 2) ^ ror32(a[0], 13) ^ ror32(a[0], 22);
        uint32_t mj = (a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]);
        memmove(a + 1, a, 7 * sizeof(uint32_t));
        a[4] += t1;
        a[0] = t1 + s0 + mj;
    }
    for (int i = 0; i < 8; i++)
        h[i] += a[i];
}

static void test_sign_last_block(void **st)
{
    (void)st;
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    uint8_t msg[150], state[32], dig[32], sig[64];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i ^ 0x5A);
    struct st_iotsafe_ref key = id_ref(0x01);
    EVP_PKEY *pub = card_public(0x01);
    /* done = 64 and 128: the device hashed whole blocks; the card finishes. */
    for (int blocks = 0; blocks <= 2; blocks++) {
        if (blocks > 0)
            sha256_block(h, msg + 64 * (blocks - 1));
        for (int i = 0; i < 8; i++) {
            state[4 * i] = (uint8_t)(h[i] >> 24);
            state[4 * i + 1] = (uint8_t)(h[i] >> 16);
            state[4 * i + 2] = (uint8_t)(h[i] >> 8);
            state[4 * i + 3] = (uint8_t)h[i];
        }
        size_t done = 64 * (size_t)blocks, tail = sizeof msg - done;
        const struct st_iotsafe_sig_input in = {.mode = ST_IOTSAFE_MODE_LAST_BLOCK,
                                                .data = msg + done,
                                                .len = tail,
                                                .state = state,
                                                .done = (uint32_t)done};
        size_t sl = sizeof sig;
        int rc = st_iotsafe_sign(&F.ios, &key, &in, sig, &sl);
        if (!fits(2 + (tail > 127) + tail + 34 + 6, true)) {
            assert_int_equal(rc, ST_E_UNSUPPORTED);
            continue;
        }
        assert_int_equal(rc, ST_OK);
        sha(EVP_sha256(), msg, sizeof msg, dig);
        assert_true(cfx_ecdsa_ok(pub, dig, 32, sig));
    }
    EVP_PKEY_free(pub);
    const struct st_iotsafe_sig_input bad = {
        .mode = ST_IOTSAFE_MODE_LAST_BLOCK, .data = msg, .len = 3, .state = state, .done = 3};
    size_t sl = sizeof sig;
    assert_int_equal(st_iotsafe_sign(&F.ios, &key, &bad, sig, &sl), ST_E_ARG);
}

static void test_verify(void **st)
{
    (void)st;
    uint8_t dig[32], sig[300];
    size_t sl = sizeof sig;
    sha(EVP_sha256(), "verify me", 9, dig);
    struct st_iotsafe_ref priv = id_ref(0x01), pub = id_ref(0x01);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &priv, dig, 32, sig, &sl), ST_OK);
    /* 9E 20 + 33 00 40 = 101 bytes: several Update blocks on the 48-byte link. */
    assert_int_equal(st_iotsafe_verify_digest(&F.ios, &pub, dig, 32, sig, 64), ST_OK);
    sig[10] ^= 1;
    assert_int_equal(st_iotsafe_verify_digest(&F.ios, &pub, dig, 32, sig, 64), ST_E_CARD_SIGNATURE);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x6D01);
    sig[10] ^= 1;
    /* By label; a wrong digest. */
    pub = label_ref("client");
    dig[0] ^= 0x80;
    assert_int_equal(st_iotsafe_verify_digest(&F.ios, &pub, dig, 32, sig, 64), ST_E_CARD_SIGNATURE);
    dig[0] ^= 0x80;
    assert_int_equal(st_iotsafe_verify_digest(&F.ios, &pub, dig, 32, sig, 64), ST_OK);

    /* Full text: the card hashes the message on both sides. */
    static uint8_t msg[700];
    memset(msg, 0x3C, sizeof msg);
    const struct st_iotsafe_sig_input in = {
        .mode = ST_IOTSAFE_MODE_FULL_TEXT, .data = msg, .len = sizeof msg};
    sl = sizeof sig;
    assert_int_equal(st_iotsafe_sign(&F.ios, &priv, &in, sig, &sl), ST_OK);
    assert_int_equal(st_iotsafe_verify(&F.ios, &pub, &in, sig, sl), ST_OK);
    msg[699] ^= 1;
    assert_int_equal(st_iotsafe_verify(&F.ios, &pub, &in, sig, sl), ST_E_CARD_SIGNATURE);

    /* RSA-2048: a 256-byte signature always spans several Update blocks. */
    struct st_iotsafe_ref rsa = id_ref(0x03);
    const struct st_iotsafe_sig_input rin = {
        .mode = ST_IOTSAFE_MODE_PAD_SIGN, .alg = ST_IOTSAFE_SIG_RSA_PKCS1, .data = dig, .len = 32};
    sl = sizeof sig;
    assert_int_equal(st_iotsafe_sign(&F.ios, &rsa, &rin, sig, &sl), ST_OK);
    assert_int_equal(sl, 256);
    assert_int_equal(st_iotsafe_verify(&F.ios, &rsa, &rin, sig, sl), ST_OK);
    sig[0] ^= 1;
    assert_int_equal(st_iotsafe_verify(&F.ios, &rsa, &rin, sig, sl), ST_E_CARD_SIGNATURE);
    /* Arguments. */
    assert_int_equal(st_iotsafe_verify_digest(&F.ios, &pub, dig, 32, sig, 0), ST_E_ARG);
    assert_int_equal(st_iotsafe_verify_digest(&F.ios, &pub, NULL, 32, sig, 64), ST_E_ARG);
}

/* ---- Keys ---- */

static void test_keygen(void **st)
{
    (void)st;
    struct st_iotsafe_keygen kg;
    struct st_iotsafe_pubkey pk;
    struct st_iotsafe_ref r = id_ref(0x04);
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &r, &kg), ST_OK);
    assert_false(kg.priv.by_label);
    assert_int_equal(kg.priv.bytes[0], 0x04);
    assert_true(kg.has_pub);
    assert_int_equal(kg.pub.bytes[0], 0x04);
    assert_int_equal(kg.key.type, ST_IOTSAFE_PUBKEY_EC);
    assert_int_equal(kg.key.point_len, 65);
    assert_int_equal(kg.key.point[0], 0x04);
    assert_int_equal(st_iotsafe_read_public_key(&F.ios, &kg.pub, &pk), ST_OK);
    assert_memory_equal(pk.point, kg.key.point, 65);
    /* A second generation gives another key. */
    struct st_iotsafe_keygen kg2;
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &r, &kg2), ST_OK);
    assert_memory_not_equal(kg2.key.point, kg.key.point, 65);

    /* OBKG into 07 (no public key object 07): the key comes back in 34 only. */
    r = label_ref("obkg");
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &r, &kg), ST_OK);
    assert_false(kg.has_pub);
    assert_false(kg.priv.by_label); /* the card reports the ID */
    assert_int_equal(kg.priv.bytes[0], 0x07);
    uint8_t dig[32], sig[64];
    size_t sl = sizeof sig;
    sha(EVP_sha256(), "obkg", 4, dig);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &kg.priv, dig, 32, sig, &sl), ST_OK);
    EVP_PKEY *pub = cfx_public_pkey(ST_KEY_P256, kg.key.point, 65);
    assert_true(cfx_ecdsa_ok(pub, dig, 32, sig));
    EVP_PKEY_free(pub);

    /* READ PUBLIC KEY of RSA-2048 (card extension 81/82). */
    r = id_ref(0x03);
    assert_int_equal(st_iotsafe_read_public_key(&F.ios, &r, &pk), ST_OK);
    assert_int_equal(pk.type, ST_IOTSAFE_PUBKEY_RSA);
    assert_int_equal(pk.n_len, 256);
    assert_int_equal(pk.e_len, 3);
    /* Refusals: no keygen function; read right missing; empty. */
    r = id_ref(0x06);
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &r, &kg), ST_E_CARD_CONDITIONS);
    r = id_ref(0x0A);
    assert_int_equal(st_iotsafe_read_public_key(&F.ios, &r, &pk), ST_E_CARD_SECURITY);
    r = id_ref(0x05);
    assert_int_equal(st_iotsafe_read_public_key(&F.ios, &r, &pk), ST_E_CARD_CONDITIONS);
}

static void test_put_key_dh(void **st)
{
    (void)st;
    struct st_iotsafe_ref p05 = id_ref(0x05), k04 = id_ref(0x04), k01 = id_ref(0x01);
    uint8_t z[66], host_z[32];
    size_t zl = sizeof z;
    /* DH before the peer key is put: 6985 (THM). */
    assert_int_equal(st_iotsafe_compute_dh(&F.ios, &k01, &p05, z, &zl), ST_E_CARD_CONDITIONS);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x6985);

    EVP_PKEY *host = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(host);
    uint8_t pt[65];
    cfx_ec_point(host, pt);
    struct st_iotsafe_pubkey pk, back;
    assert_int_equal(st_iotsafe_pubkey_ec(&pk, pt, 65), ST_OK);
    st_card_reset_stats(F.card);
    assert_int_equal(st_iotsafe_put_public_key(&F.ios, &p05, &pk), ST_OK);
    if (C->max_apdu == 48) /* 71-byte 34 TLV: two D8 blocks */
        assert_true(st_card_stats(F.card)->apdus >= 4);
    assert_int_equal(st_iotsafe_read_public_key(&F.ios, &p05, &back), ST_OK);
    assert_memory_equal(back.point, pt, 65);

    struct st_iotsafe_keygen kg;
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &k04, &kg), ST_OK);
    zl = sizeof z;
    assert_int_equal(st_iotsafe_compute_dh(&F.ios, &k04, &p05, z, &zl), ST_OK);
    assert_int_equal(zl, 32);
    /* The host side of the same ECDH. */
    EVP_PKEY *card_pub = cfx_public_pkey(ST_KEY_P256, kg.key.point, 65);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(host, NULL);
    size_t hl = sizeof host_z;
    assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, card_pub), 1);
    assert_int_equal(EVP_PKEY_derive(ctx, host_z, &hl), 1);
    assert_int_equal(hl, 32);
    assert_memory_equal(z, host_z, 32);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(card_pub);
    EVP_PKEY_free(host);
    /* By labels; a secret buffer too small. */
    struct st_iotsafe_ref l04 = label_ref("ecdhe"), l05 = label_ref("peer");
    uint8_t z2[32];
    zl = sizeof z2;
    assert_int_equal(st_iotsafe_compute_dh(&F.ios, &l04, &l05, z2, &zl), ST_OK);
    assert_memory_equal(z2, host_z, 32);
    zl = 16;
    assert_int_equal(st_iotsafe_compute_dh(&F.ios, &l04, &l05, z2, &zl), ST_E_BUFFER);
    assert_int_equal(zl, 16);

    /* A brainpool point into a P-256 slot: 6A80 (rule 8.8). */
    EVP_PKEY *bp = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "brainpoolP256r1");
    cfx_ec_point(bp, pt);
    EVP_PKEY_free(bp);
    assert_int_equal(st_iotsafe_pubkey_ec(&pk, pt, 65), ST_OK);
    assert_int_equal(st_iotsafe_put_public_key(&F.ios, &p05, &pk), ST_E_CARD_INCORRECT_DATA);

    /* RSA-2048 public key into 09 ("rsapeer"): ~270 bytes, several D8 blocks;
     * then it verifies a signature of private key 03. */
    struct st_iotsafe_ref r03 = id_ref(0x03), r09 = label_ref("rsapeer");
    assert_int_equal(st_iotsafe_read_public_key(&F.ios, &r03, &pk), ST_OK);
    assert_int_equal(st_iotsafe_put_public_key(&F.ios, &r09, &pk), ST_OK);
    assert_int_equal(st_iotsafe_read_public_key(&F.ios, &r09, &back), ST_OK);
    assert_int_equal(back.n_len, 256);
    assert_memory_equal(back.n, pk.n, 256);
    uint8_t dig[32], sig[256];
    size_t sl = sizeof sig;
    sha(EVP_sha256(), "rsa", 3, dig);
    const struct st_iotsafe_sig_input in = {
        .mode = ST_IOTSAFE_MODE_PAD_SIGN, .alg = ST_IOTSAFE_SIG_RSA_PSS, .data = dig, .len = 32};
    assert_int_equal(st_iotsafe_sign(&F.ios, &r03, &in, sig, &sl), ST_OK);
    assert_int_equal(st_iotsafe_verify(&F.ios, &r09, &in, sig, sl), ST_OK);
}

/* ---- Key derivation ---- */

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    return cfx_unhex(h, out, cap);
}

static void host_prf(const uint8_t *secret, size_t sl, const uint8_t *seed, size_t seedl,
                     uint8_t *out, size_t n)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, sl),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed, seedl),
                      OSSL_PARAM_construct_end()};
    assert_int_equal(EVP_KDF_derive(ctx, out, n, p), 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
}

static void test_prf(void **st)
{
    (void)st;
    /* Reference §7, vector 1 (THM): general mode. */
    uint8_t secret[48], seed[128], out[255], want[255];
    size_t sl = unhex("c0485b054863f6dfa458789768b9035c6cacb160dd1a01834811f5783309db81", secret,
                      sizeof secret);
    const char *label = "extended master secret";
    size_t seedl = unhex("ce15b44d68440b652624244db8d2fb7dd601c759e9eb627fb10529ab0db76049", seed,
                         sizeof seed);
    struct st_iotsafe_prf_params p = {.mode = ST_IOTSAFE_PRF_GENERAL,
                                      .secret = secret,
                                      .secret_len = sl,
                                      .label = (const uint8_t *)label,
                                      .label_len = strlen(label),
                                      .seed = seed,
                                      .seed_len = seedl};
    size_t lc = 2 + sl + 2 + strlen(label) + seedl + 3; /* 0x5D */
    int rc = st_iotsafe_prf(&F.ios, &p, out, 48);
    if (!fits(lc, true)) {
        assert_int_equal(rc, ST_E_UNSUPPORTED);
    } else {
        assert_int_equal(rc, ST_OK);
        unhex("a1f02a766da04c8fd83a40e358267528f8d815c48e3dc353d55fe3861c350622c78b48fe6f49f6e1"
              "3e1b6b175cfe59fb",
              want, sizeof want);
        assert_memory_equal(out, want, 48);
        /* Vector 2: the 48-byte result as secret, 255 bytes out. */
        memcpy(secret, out, 48);
        label = "key expansion";
        seedl = unhex("cb52e451a752ca812ea9646f2e5a0ec138c3d4d8aefa744e17f01499867450815dcadeed"
                      "3917d046311a4b5d73bbd75e500ce963a7d05d8122ea9745f2e0d9e9",
                      seed, sizeof seed);
        p.secret_len = 48;
        p.label = (const uint8_t *)label;
        p.label_len = strlen(label);
        p.seed_len = seedl;
        lc = 2 + 48 + 2 + strlen(label) + seedl + 3; /* 0x84 */
        rc = st_iotsafe_prf(&F.ios, &p, out, 255);
        if (fits(lc, true)) {
            assert_int_equal(rc, ST_OK);
            unhex("ed6c6644c075653f1919fd05a11a93c8057267b9c2cbd09e6d8882b355473e8e", want, 32);
            assert_memory_equal(out, want, 32);
        } else {
            assert_int_equal(rc, ST_E_UNSUPPORTED);
            assert_string_not_equal(st_sim_detail(&F.sim), "");
        }
    }

    /* PSK (RFC 4279 pre-master) and PSK-ECDHE (RFC 5489) with psk1 = 00..1F. */
    uint8_t psk[32], pm[2 + 32 + 2 + 32], other[32];
    for (int i = 0; i < 32; i++)
        psk[i] = (uint8_t)i;
    memset(other, 0xAA, sizeof other);
    uint8_t ls[64];
    memcpy(ls, "master secret", 13);
    memset(ls + 13, 0x11, 32);
    struct st_iotsafe_ref r = label_ref("psk1");
    struct st_iotsafe_prf_params q = {.mode = ST_IOTSAFE_PRF_PSK,
                                      .psk = &r,
                                      .label = ls,
                                      .label_len = 13,
                                      .seed = ls + 13,
                                      .seed_len = 32};
    rc = st_iotsafe_prf(&F.ios, &q, out, 48);
    if (!fits(6 + 2 + 45 + 3, true)) {
        assert_int_equal(rc, ST_E_UNSUPPORTED);
        return;
    }
    assert_int_equal(rc, ST_OK);
    pm[0] = 0;
    pm[1] = 32;
    memset(pm + 2, 0, 32);
    pm[34] = 0;
    pm[35] = 32;
    memcpy(pm + 36, psk, 32);
    host_prf(pm, sizeof pm, ls, 45, want, 48);
    assert_memory_equal(out, want, 48);
    q.mode = ST_IOTSAFE_PRF_PSK_ECDHE;
    q.other = other;
    q.other_len = 32;
    rc = st_iotsafe_prf(&F.ios, &q, out, 48);
    if (fits(6 + 2 + 32 + 2 + 45 + 3, true)) {
        assert_int_equal(rc, ST_OK);
        memcpy(pm + 2, other, 32);
        host_prf(pm, sizeof pm, ls, 45, want, 48);
        assert_memory_equal(out, want, 48);
    } else {
        assert_int_equal(rc, ST_E_UNSUPPORTED);
    }
    /* A secret without the derivation function; bad parameters. */
    r = id_ref(0x12);
    q.mode = ST_IOTSAFE_PRF_PSK;
    q.other = NULL;
    q.other_len = 0;
    assert_int_equal(st_iotsafe_prf(&F.ios, &q, out, 48), ST_E_CARD_CONDITIONS);
    assert_int_equal(st_iotsafe_prf(&F.ios, &q, out, 256), ST_E_ARG);
    assert_int_equal(st_iotsafe_prf(&F.ios, &q, out, 0), ST_E_ARG);
    q.mode = 7;
    assert_int_equal(st_iotsafe_prf(&F.ios, &q, out, 48), ST_E_ARG);
}

static void host_hkdf(int mode, const EVP_MD *md, const uint8_t *key, size_t kl,
                      const uint8_t *salt, size_t saltl, const uint8_t *info, size_t infol,
                      uint8_t *out, size_t n)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[6];
    int i = 0;
    p[i++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    p[i++] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
    p[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, kl);
    if (saltl)
        p[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltl);
    if (infol)
        p[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infol);
    p[i] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_KDF_derive(ctx, out, n, p), 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
}

static void test_hkdf(void **st)
{
    (void)st;
    uint8_t zero[48] = {0}, prk[64], want[400], out[400];
    size_t n = sizeof prk;
    const struct st_iotsafe_key_input z = {.bytes = zero, .len = 32};
    /* Reference §7: the RFC 8448 early secret (zero IKM, zero salt). */
    int rc = st_iotsafe_hkdf_extract(&F.ios, 0, &z, zero, 32, prk, &n);
    if (!fits(34 + 34 + 4, true)) {
        assert_int_equal(rc, ST_E_UNSUPPORTED);
        return; /* nothing of HKDF fits a 48-byte link */
    }
    assert_int_equal(rc, ST_OK);
    assert_int_equal(n, 32);
    unhex("33AD0A1C607EC03B09E6CD9893680CE210ADF300AA1F2660E1B22E10F170F92A", want, 32);
    assert_memory_equal(prk, want, 32);
    /* No salt: sent as 32 zero bytes, the same PRK. */
    n = sizeof prk;
    assert_int_equal(st_iotsafe_hkdf_extract(&F.ios, ST_IOTSAFE_HASH_SHA256, &z, NULL, 0, prk, &n),
                     ST_OK);
    assert_memory_equal(prk, want, 32);
    /* A secret key object as IKM (card extension); SHA-384. */
    struct st_iotsafe_ref r = label_ref("psk1");
    const struct st_iotsafe_key_input kin = {.ref = &r};
    uint8_t psk[32];
    for (int i = 0; i < 32; i++)
        psk[i] = (uint8_t)i;
    n = sizeof prk;
    assert_int_equal(st_iotsafe_hkdf_extract(&F.ios, ST_IOTSAFE_HASH_SHA384, &kin,
                                             (const uint8_t *)"salt", 4, prk, &n),
                     ST_OK);
    assert_int_equal(n, 48);
    host_hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, EVP_sha384(), psk, 32, (const uint8_t *)"salt", 4,
              NULL, 0, want, 48);
    assert_memory_equal(prk, want, 48);
    n = 20;
    assert_int_equal(
        st_iotsafe_hkdf_extract(&F.ios, ST_IOTSAFE_HASH_SHA384, &kin, NULL, 0, prk, &n),
        ST_E_BUFFER);

    /* Expand from PRK bytes: 42 bytes with info, 300 bytes (2-byte D3). */
    const char *info = "tls13 derived";
    const struct st_iotsafe_key_input pin = {.bytes = want, .len = 48};
    unhex("33AD0A1C607EC03B09E6CD9893680CE210ADF300AA1F2660E1B22E10F170F92A", prk, 32);
    const struct st_iotsafe_key_input p32 = {.bytes = prk, .len = 32};
    assert_int_equal(
        st_iotsafe_hkdf_expand(&F.ios, 0, &p32, (const uint8_t *)info, strlen(info), out, 42),
        ST_OK);
    host_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, EVP_sha256(), prk, 32, NULL, 0, (const uint8_t *)info,
              strlen(info), want + 100, 42);
    assert_memory_equal(out, want + 100, 42);
    assert_int_equal(st_iotsafe_hkdf_expand(&F.ios, 0, &p32, NULL, 0, out, 300), ST_OK);
    host_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, EVP_sha256(), prk, 32, NULL, 0, NULL, 0, want, 300);
    assert_memory_equal(out, want, 300);
    (void)pin;
    /* Expand from a secret key object (psk2, 64 bytes). */
    uint8_t psk2[64];
    for (int i = 0; i < 64; i++)
        psk2[i] = (uint8_t)(0x40 + i);
    r = id_ref(0x11);
    const struct st_iotsafe_key_input k2 = {.ref = &r};
    assert_int_equal(st_iotsafe_hkdf_expand(&F.ios, ST_IOTSAFE_HASH_SHA256, &k2,
                                            (const uint8_t *)"x", 1, out, 64),
                     ST_OK);
    host_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, EVP_sha256(), psk2, 64, NULL, 0, (const uint8_t *)"x",
              1, want, 64);
    assert_memory_equal(out, want, 64);
    /* Arguments. */
    assert_int_equal(st_iotsafe_hkdf_expand(&F.ios, 3, &p32, NULL, 0, out, 10), ST_E_ARG);
    assert_int_equal(st_iotsafe_hkdf_expand(&F.ios, 0, &p32, NULL, 0, out, 1025), ST_E_ARG);
    assert_int_equal(st_iotsafe_hkdf_expand(&F.ios, 0, NULL, NULL, 0, out, 10), ST_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_full_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_last_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keygen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_key_dh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hkdf, setup, teardown),
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        C = &cfgs[i];
        failed +=
            _cmocka_run_group_tests(C->name, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
    }
    free(g_state);
    return failed != 0;
}
