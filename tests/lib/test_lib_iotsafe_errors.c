/*
 * Error paths of the IoT SAFE client with faults injected between the
 * library and simtrust-card (tests/support/inproc_transport.h): the card
 * removed mid-sequence (ST_E_NO_CARD), transport failures, wrong status
 * words (card codes with the raw SW kept), truncated and garbage answers
 * (ST_E_PARSE), buffers too small (ST_E_BUFFER), links too small for
 * commands without blocks (ST_E_UNSUPPORTED), and the answers of other
 * applets the client must accept (reference §8: unwrapped GET DATA C3,
 * THP's several objects per entry, DER signatures, 91xx, 63CF, GENERATE
 * KEY PAIR without 34).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "card_fixture.h"
#include "inproc_transport.h"
#include "simtrust/iotsafe.h"

static struct st_card_state *g_state;

static struct {
    st_card *card;
    struct st_inproc ip;
    struct st_transport tr;
    struct st_sim sim;
    struct st_iotsafe ios;
} F;

static void open_client(bool t0, size_t max_apdu)
{
    struct st_card_config cc = {.t0_style = t0};
    char err[200];
    if (g_state == NULL) {
        g_state = malloc(sizeof(*g_state));
        assert_non_null(g_state);
        memcpy(g_state, cfx_state(), sizeof(*g_state));
        struct st_object *o = st_objects_alloc(g_state, ST_OBJ_FILE);
        o->id_len = 1;
        o->id[0] = 0x02;
        o->access = ST_ACCESS_READ;
        o->usage = ST_FILE_CERTIFICATE;
        for (int i = 0; i < 600; i++)
            o->value[i] = (uint8_t)i;
        o->value_len = 600;
    }
    F.card = st_card_new(&cc, g_state, err, sizeof err);
    assert_non_null(F.card);
    st_inproc_init(&F.ip, F.card, &F.tr, max_apdu);
    st_sim_init(&F.sim, &F.tr);
    assert_int_equal(st_iotsafe_init(&F.ios, &F.sim, NULL), ST_OK);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_OK);
}

static int setup(void **st)
{
    (void)st;
    open_client(false, 0);
    return 0;
}

static int setup_t0(void **st)
{
    (void)st;
    open_client(true, 0);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    st_card_free(F.card);
    return 0;
}

static struct st_iotsafe_ref id_ref(uint8_t id)
{
    struct st_iotsafe_ref r;
    assert_int_equal(st_iotsafe_ref_id(&r, &id, 1), ST_OK);
    return r;
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    char buf[1200];
    size_t j = 0;
    for (; *h && j + 1 < sizeof buf; h++)
        if (*h != ' ')
            buf[j++] = *h;
    buf[j] = '\0';
    return cfx_unhex(buf, out, cap);
}

/* Arms a garbage answer (hex, SW included) for the next APDU with INS ins. */
static void garbage(int ins, unsigned skip, const char *hex)
{
    uint8_t b[ST_RESPONSE_MAX];
    size_t n = unhex(hex, b, sizeof b);
    st_inproc_fault_bytes(&F.ip, ins, skip, b, n);
}

static const uint8_t dig[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

/* ---- The card disappears ---- */

static void test_removed_mid_sign(void **st)
{
    (void)st;
    struct st_iotsafe_ref k = id_ref(0x01);
    uint8_t sig[64];
    size_t sl = sizeof sig;
    /* After Init (close, open), at the Update. */
    st_inproc_fault(&F.ip, ST_INPROC_REMOVE, 0x2B, 0);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_NO_CARD);
    assert_int_equal(sl, sizeof sig);
    assert_string_equal(st_error_layer(ST_E_NO_CARD), "transport");
    assert_int_equal(st_iotsafe_get_random(&F.ios, sig, 8), ST_E_NO_CARD);
    /* Back in: a power cycle closed the channel, the card says so. */
    st_inproc_insert(&F.ip);
    assert_int_equal(st_iotsafe_get_random(&F.ios, sig, 8), ST_E_CARD_CHANNEL);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x6881);
    (void)st_iotsafe_close(&F.ios);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_OK);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_OK);
}

static void test_removed_elsewhere(void **st)
{
    (void)st;
    uint8_t buf[1000];
    size_t n = sizeof buf;
    struct st_iotsafe_ref f = id_ref(0x02), k = id_ref(0x01);
    /* Second READ FILE chunk. */
    st_inproc_fault(&F.ip, ST_INPROC_REMOVE, 0xB0, 1);
    assert_int_equal(st_iotsafe_read_file(&F.ios, &f, buf, &n), ST_E_NO_CARD);
    assert_int_equal(n, sizeof buf);
    st_inproc_insert(&F.ip);
    (void)st_iotsafe_close(&F.ios);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_OK);
    /* The object list's continuation (P2 = 01). */
    struct st_iotsafe_object objs[32];
    size_t cnt = 32;
    st_inproc_fault(&F.ip, ST_INPROC_REMOVE, 0xCB, 1);
    assert_int_equal(st_iotsafe_list_objects(&F.ios, objs, &cnt), ST_E_NO_CARD);
    assert_int_equal(cnt, 32);
    st_inproc_insert(&F.ip);
    (void)st_iotsafe_close(&F.ios);
    /* MANAGE CHANNEL. */
    st_inproc_fault(&F.ip, ST_INPROC_REMOVE, 0x70, 0);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_E_NO_CARD);
    assert_false(st_iotsafe_is_open(&F.ios));
    st_inproc_insert(&F.ip);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_OK);
    /* The close after a signature: the signature is there, the card is not. */
    uint8_t sig[64];
    size_t sl = sizeof sig;
    st_inproc_fault(&F.ip, ST_INPROC_REMOVE, 0x2A, 2);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_NO_CARD);
    st_inproc_insert(&F.ip);
    (void)st_iotsafe_close(&F.ios);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_OK);
    /* Other transport failures are passed on as they are. */
    st_inproc_fault(&F.ip, ST_INPROC_ERROR, 0x84, 0);
    F.ip.fault.error = ST_E_TIMEOUT;
    assert_int_equal(st_iotsafe_get_random(&F.ios, buf, 4), ST_E_TIMEOUT);
    st_inproc_fault(&F.ip, ST_INPROC_ERROR, 0x46, 0);
    F.ip.fault.error = ST_E_LINK_CLOSED;
    struct st_iotsafe_ref p = id_ref(0x05);
    n = 32;
    assert_int_equal(st_iotsafe_compute_dh(&F.ios, &k, &p, buf, &n), ST_E_LINK_CLOSED);
}

/* In T=0 style the card goes away between 61xx and GET RESPONSE. */
static void test_removed_in_get_response(void **st)
{
    (void)st;
    struct st_iotsafe_ref k = id_ref(0x01);
    uint8_t sig[64];
    size_t sl = sizeof sig;
    st_inproc_fault(&F.ip, ST_INPROC_REMOVE, 0xC0, 0);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_NO_CARD);
    st_inproc_insert(&F.ip);
    (void)st_iotsafe_close(&F.ios);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_OK);
    /* A GET RESPONSE answered with a truncated R-APDU. */
    st_inproc_fault(&F.ip, ST_INPROC_TRUNCATE, 0xC0, 0);
    F.ip.fault.len = 1;
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_PARSE);
}

/* ---- Wrong status words ---- */

static void test_wrong_sw(void **st)
{
    (void)st;
    struct st_iotsafe_ref k = id_ref(0x01), k4 = id_ref(0x04);
    uint8_t sig[64], b[64];
    size_t sl = sizeof sig;
    st_inproc_fault_sw(&F.ip, 0x2A, 1, 0x6F00); /* the Init open (after the close) */
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_CARD);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x6F00);
    assert_string_equal(st_error_layer(ST_E_CARD), "card");
    /* The close before the open is ignored whatever it answers. */
    st_inproc_fault_sw(&F.ip, 0x2A, 0, 0x6A86);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_OK);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x9000);
    st_inproc_fault_sw(&F.ip, 0x2B, 0, 0x6300);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_CARD);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x6300); /* kept across the final close */
    struct st_iotsafe_keygen kg;
    st_inproc_fault_sw(&F.ip, 0xB9, 0, 0x6985);
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &k4, &kg), ST_E_CARD_CONDITIONS);
    struct st_iotsafe_app_info ai;
    st_inproc_fault_sw(&F.ip, 0xCB, 0, 0x6A82);
    assert_int_equal(st_iotsafe_get_app_info(&F.ios, &ai), ST_E_CARD_NOT_FOUND);
    uint8_t zero[32] = {0};
    const struct st_iotsafe_key_input z = {.bytes = zero, .len = 32};
    size_t n = sizeof b;
    st_inproc_fault_sw(&F.ip, 0x4A, 0, 0x6D00);
    assert_int_equal(st_iotsafe_hkdf_extract(&F.ios, 0, &z, NULL, 0, b, &n), ST_E_CARD_INS);
    st_inproc_fault_sw(&F.ip, 0x84, 0, 0x6E00);
    assert_int_equal(st_iotsafe_get_random(&F.ios, b, 4), ST_E_CARD_CLA);
    st_inproc_fault_sw(&F.ip, 0x84, 0, 0x6984);
    assert_int_equal(st_iotsafe_get_random(&F.ios, b, 4), ST_E_CARD_REMOTE_ADMIN);
    /* 63CF: success, and the device learns that a remote admin session ended (K3). */
    struct st_iotsafe_pubkey pk;
    uint8_t pt[65] = {4};
    EVP_PKEY *h = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    cfx_ec_point(h, pt);
    EVP_PKEY_free(h);
    assert_int_equal(st_iotsafe_pubkey_ec(&pk, pt, 65), ST_OK);
    struct st_iotsafe_ref p5 = id_ref(0x05);
    st_inproc_fault_sw(&F.ip, 0xD8, 0, 0x63CF);
    assert_int_equal(st_iotsafe_put_public_key(&F.ios, &p5, &pk), ST_OK);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x63CF);
    /* SELECT refused at open. */
    (void)st_iotsafe_close(&F.ios);
    st_inproc_fault_sw(&F.ip, 0xA4, 0, 0x6999);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_E_CARD);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x6999);
    assert_false(st_iotsafe_is_open(&F.ios));
    /* No channel left. */
    st_inproc_fault_sw(&F.ip, 0x70, 0, 0x6A81);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_E_CARD_CHANNEL);
}

/* ---- Garbage and truncated answers ---- */

static void test_garbage(void **st)
{
    (void)st;
    uint8_t b[300], sig[64];
    size_t n, sl = sizeof sig;
    struct st_iotsafe_ref k = id_ref(0x01), f = id_ref(0x02), p = id_ref(0x01);
    /* R-APDUs of 1 and 0 bytes. */
    st_inproc_fault(&F.ip, ST_INPROC_TRUNCATE, 0x84, 0);
    F.ip.fault.len = 1;
    assert_int_equal(st_iotsafe_get_random(&F.ios, b, 4), ST_E_PARSE);
    st_inproc_fault(&F.ip, ST_INPROC_TRUNCATE, 0x84, 0);
    F.ip.fault.len = 0;
    assert_int_equal(st_iotsafe_get_random(&F.ios, b, 4), ST_E_PARSE);
    assert_string_equal(st_error_layer(ST_E_PARSE), "parse");
    /* Fewer random bytes than asked. */
    garbage(0x84, 0, "0102 9000");
    assert_int_equal(st_iotsafe_get_random(&F.ios, b, 4), ST_E_PARSE);
    /* Object list: an entry that runs past the end; attributes before a reference. */
    struct st_iotsafe_object objs[32];
    size_t cnt = 32;
    garbage(0xCB, 0, "C105 8401 01 9000");
    assert_int_equal(st_iotsafe_list_objects(&F.ios, objs, &cnt), ST_E_PARSE);
    assert_string_not_equal(st_sim_detail(&F.sim), "");
    garbage(0xCB, 0, "C106 600101 840101 9000");
    assert_int_equal(st_iotsafe_list_objects(&F.ios, objs, &cnt), ST_E_PARSE);
    assert_int_equal(cnt, 32);
    garbage(0xCB, 0, "6300");
    assert_int_equal(st_iotsafe_list_objects(&F.ios, objs, &cnt), ST_E_PARSE);
    struct st_iotsafe_app_info ai;
    garbage(0xCB, 0, "1002 01 9000");
    assert_int_equal(st_iotsafe_get_app_info(&F.ios, &ai), ST_E_PARSE);
    /* Signature answers without a 33 TLV, or a cut one. */
    garbage(0x2B, 0, "3440 0102 9000");
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_PARSE);
    garbage(0x2B, 0, "330040 0102 9000");
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_PARSE);
    garbage(0x2B, 0, "9000");
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_PARSE);
    assert_int_equal(sl, sizeof sig);
    /* Key answers. */
    struct st_iotsafe_keygen kg;
    struct st_iotsafe_ref k4 = id_ref(0x04);
    garbage(0xB9, 0, "840104 3403 490186 9000");
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &k4, &kg), ST_E_PARSE);
    garbage(0xB9, 0, "8400 9000");
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &k4, &kg), ST_E_PARSE);
    struct st_iotsafe_pubkey pk;
    garbage(0xCD, 0,
            "3445 4943 8641 02 0000000000000000000000000000000000000000000000000000000000"
            "000000 00000000000000000000000000000000000000000000000000000000000000 00"
            " 9000");
    assert_int_equal(st_iotsafe_read_public_key(&F.ios, &p, &pk), ST_E_PARSE);
    /* DH and PRF answers of the wrong size; the PRF output is zeroed. */
    struct st_iotsafe_ref p5 = id_ref(0x05);
    n = 32;
    garbage(0x46, 0, "9000");
    assert_int_equal(st_iotsafe_compute_dh(&F.ios, &k, &p5, b, &n), ST_E_PARSE);
    memset(b, 0xEE, 48);
    struct st_iotsafe_prf_params pp = {.mode = ST_IOTSAFE_PRF_GENERAL,
                                       .secret = dig,
                                       .secret_len = 32,
                                       .label = (const uint8_t *)"l",
                                       .label_len = 1};
    garbage(0x48, 0, "0102030405060708090A 9000");
    assert_int_equal(st_iotsafe_prf(&F.ios, &pp, b, 48), ST_E_PARSE);
    for (int i = 0; i < 48; i++)
        assert_int_equal(b[i], 0);
    /* READ FILE: the file ends before the size GET DATA gave. */
    n = sizeof b;
    static uint8_t big[700];
    n = sizeof big;
    st_inproc_fault_sw(&F.ip, 0xB0, 1, 0x6981);
    assert_int_equal(st_iotsafe_read_file(&F.ios, &f, big, &n), ST_E_PARSE);
    /* MANAGE CHANNEL answering two bytes. */
    (void)st_iotsafe_close(&F.ios);
    garbage(0x70, 0, "0100 9000");
    assert_int_equal(st_iotsafe_open(&F.ios), ST_E_PARSE);
}

/* ---- What other applets answer, and the client accepts (reference §8) ---- */

static void test_other_applets(void **st)
{
    (void)st;
    struct st_iotsafe_ref f = id_ref(0x02), k = id_ref(0x01);
    struct st_iotsafe_object o;
    /* GET DATA C3 without its wrapper (M33). */
    garbage(0xCB, 0, "830102 600101 4A0101 20020258 210102 9000");
    assert_int_equal(st_iotsafe_get_object(&F.ios, ST_IOTSAFE_FILE, &f, &o), ST_OK);
    assert_int_equal(o.size, 600);
    assert_int_equal(o.usage, 2);
    /* An applet without GET DATA one object: READ FILE reads until 6981. */
    static uint8_t buf[700];
    size_t n = sizeof buf;
    st_inproc_fault_sw(&F.ip, 0xCB, 0, 0x6A86);
    assert_int_equal(st_iotsafe_read_file(&F.ios, &f, buf, &n), ST_OK);
    assert_int_equal(n, 600);
    assert_int_equal(buf[599], (uint8_t)599);
    /* ... and find_object falls back to the list. */
    st_inproc_fault_sw(&F.ip, 0xCB, 0, 0x6D00);
    assert_int_equal(st_iotsafe_find_object(&F.ios, ST_IOTSAFE_FILE, &f, &o), ST_OK);
    assert_int_equal(o.size, 600);
    /* THP: several objects in one C1; a vendor entry tag is skipped. */
    struct st_iotsafe_object objs[8];
    size_t cnt = 8;
    garbage(0xCB, 0, "C111 840101 600101 840102 600100 7403616263 DF0100 C203 850101 9000");
    assert_int_equal(st_iotsafe_list_objects(&F.ios, objs, &cnt), ST_OK);
    assert_int_equal(cnt, 4);
    assert_int_equal(objs[1].id[0], 2);
    assert_int_equal(objs[2].label_len, 3);
    assert_int_equal(objs[3].kind, ST_IOTSAFE_PUBLIC_KEY);
    /* ORA's applet: 1-byte hash algorithms in the application data. */
    struct st_iotsafe_app_info ai;
    garbage(0xCB, 0, "100101 110D 61707065742D69642D31323334 910101 B70101 9000");
    assert_int_equal(st_iotsafe_get_app_info(&F.ios, &ai), ST_OK);
    assert_int_equal(ai.hash_algos, 1);
    assert_int_equal(ai.proprietary_id_len, 13);
    /* A DER signature ("some applets return ASN1"), with SW 9110. */
    uint8_t sig[64];
    size_t sl = sizeof sig;
    garbage(0x2B, 0, "3308 3006 020105 02017F 9110");
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_OK);
    assert_int_equal(sl, 64);
    assert_int_equal(sig[31], 5);
    assert_int_equal(sig[63], 0x7F);
    assert_int_equal(st_sim_last_sw(&F.sim), 0x9110);
    /* GENERATE KEY PAIR with no 34: the key is read with READ PUBLIC KEY (WS). */
    struct st_iotsafe_keygen kg;
    garbage(0xB9, 0, "840101 850101 9000");
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &k, &kg), ST_OK);
    assert_true(kg.has_pub);
    assert_memory_equal(kg.key.point, cfx_obj(F.card, ST_OBJ_PUBLIC_KEY, "01")->value, 65);
    /* ... also without 85: the public key with the private key's reference. */
    garbage(0xB9, 0, "840101 9000");
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &k, &kg), ST_OK);
    assert_false(kg.has_pub);
    assert_int_equal(kg.key.point_len, 65);
    /* A card that changes the key ID (ATS: "may modify the key ID"). */
    uint8_t ats[128];
    size_t an = unhex("8403303036 8503303036 344549438641 04", ats, sizeof ats);
    memset(ats + an, 0x42, 64);
    an += 64;
    ats[an++] = 0x90;
    ats[an++] = 0x00;
    st_inproc_fault_bytes(&F.ip, 0xB9, 0, ats, an);
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &k, &kg), ST_OK);
    assert_int_equal(kg.priv.len, 3);
    assert_memory_equal(kg.priv.bytes, "006", 3);
    assert_memory_equal(kg.pub.bytes, "006", 3);
}

/* ---- Sizes ---- */

static void test_small_links(void **st)
{
    (void)st;
    st_card_free(F.card);
    open_client(false, 20);
    struct st_iotsafe_ref k = id_ref(0x01);
    uint8_t sig[64];
    size_t sl = sizeof sig;
    /* Init (13 bytes) fits, the 34-byte 9E does not and cannot be split. */
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, dig, 32, sig, &sl), ST_E_UNSUPPORTED);
    assert_string_not_equal(st_sim_detail(&F.sim), "");
    /* Full text is split as much as needed. */
    const struct st_iotsafe_sig_input in = {
        .mode = ST_IOTSAFE_MODE_FULL_TEXT, .data = dig, .len = 32};
    assert_int_equal(st_iotsafe_sign(&F.ios, &k, &in, sig, &sl), ST_OK);
    struct st_iotsafe_ref lk, lp;
    assert_int_equal(st_iotsafe_ref_label(&lk, "ecdhe-key-with-a-long-label", 27), ST_OK);
    assert_int_equal(st_iotsafe_ref_label(&lp, "peer", 4), ST_OK);
    uint8_t z[32];
    size_t zl = sizeof z;
    assert_int_equal(st_iotsafe_compute_dh(&F.ios, &lk, &lp, z, &zl), ST_E_UNSUPPORTED);
    uint8_t prk[32];
    size_t pl = sizeof prk;
    const struct st_iotsafe_key_input ikm = {.bytes = dig, .len = 32};
    assert_int_equal(st_iotsafe_hkdf_extract(&F.ios, 0, &ikm, NULL, 0, prk, &pl), ST_E_UNSUPPORTED);
    assert_int_equal(st_iotsafe_close(&F.ios), ST_OK);
    st_card_free(F.card);
    /* Too small even for SELECT. */
    open_client(false, 0);
    st_card_free(F.card);
    struct st_card_config cc = {0};
    char err[100];
    F.card = st_card_new(&cc, g_state, err, sizeof err);
    st_inproc_init(&F.ip, F.card, &F.tr, 10);
    st_sim_init(&F.sim, &F.tr);
    assert_int_equal(st_iotsafe_init(&F.ios, &F.sim, NULL), ST_OK);
    assert_int_equal(st_iotsafe_open(&F.ios), ST_E_UNSUPPORTED);
}

/* ---- A CCHO-only modem: the transport opens and closes channels ---- */

static struct {
    int opens, closes;
    uint8_t last_closed;
} CC;

static int ccho_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen)
{
    /* Like AT+CGLA: MANAGE CHANNEL is not allowed through the pipe. */
    if (clen >= 2 && c[1] == 0x70)
        return ST_E_MODEM;
    return F.tr.ops->transmit(ctx, c, clen, r, rlen);
}

static int ccho_open(void *ctx, const uint8_t *aid, size_t aid_len, uint8_t *channel)
{
    uint8_t c[32] = {0x00, 0x70, 0x00, 0x00, 0x01}, r[ST_RESPONSE_MAX];
    size_t rl = sizeof r;
    CC.opens++;
    if (F.tr.ops->transmit(ctx, c, 5, r, &rl) != ST_OK || rl != 3)
        return ST_E_MODEM;
    *channel = r[0];
    c[0] = r[0];
    c[1] = 0xA4;
    c[2] = 0x04;
    c[3] = 0x00;
    c[4] = (uint8_t)aid_len;
    memcpy(c + 5, aid, aid_len);
    rl = sizeof r;
    if (F.tr.ops->transmit(ctx, c, 5 + aid_len, r, &rl) != ST_OK || r[rl - 2] != 0x90)
        return ST_E_MODEM;
    return ST_OK;
}

static int ccho_close(void *ctx, uint8_t channel)
{
    uint8_t c[4] = {0x00, 0x70, 0x80, channel}, r[ST_RESPONSE_MAX];
    size_t rl = sizeof r;
    CC.closes++;
    CC.last_closed = channel;
    return F.tr.ops->transmit(ctx, c, 4, r, &rl);
}

static const struct st_transport_ops ccho_ops = {
    .name = "ccho",
    .transmit = ccho_transmit,
    .open_channel = ccho_open,
    .close_channel = ccho_close,
};

static void test_transport_channels(void **st)
{
    (void)st;
    struct st_transport tr = {&ccho_ops, F.tr.ctx, 0};
    struct st_sim sim;
    struct st_iotsafe ios;
    struct st_iotsafe_config cfg;
    uint8_t b[8];
    memset(&CC, 0, sizeof CC);
    st_sim_init(&sim, &tr);
    /* Default: the transport's open_channel is used when it has one. */
    assert_int_equal(st_iotsafe_init(&ios, &sim, NULL), ST_OK);
    assert_int_equal(st_iotsafe_open(&ios), ST_OK);
    assert_int_equal(CC.opens, 1);
    assert_int_equal(st_iotsafe_channel(&ios), 2); /* F.ios holds channel 1 */
    assert_int_equal(st_iotsafe_get_random(&ios, b, 8), ST_OK);
    assert_int_equal(st_iotsafe_close(&ios), ST_OK);
    assert_int_equal(CC.closes, 1);
    assert_int_equal(CC.last_closed, 2);
    /* Forced MANAGE CHANNEL through a pipe that refuses it: the modem's error. */
    st_iotsafe_config_default(&cfg);
    cfg.flags = ST_IOTSAFE_MANAGE_CHANNEL;
    assert_int_equal(st_iotsafe_init(&ios, &sim, &cfg), ST_OK);
    assert_int_equal(st_iotsafe_open(&ios), ST_E_MODEM);
    assert_string_equal(st_error_layer(ST_E_MODEM), "transport");
    cfg.flags = ST_IOTSAFE_MANAGE_CHANNEL | ST_IOTSAFE_TRANSPORT_CHANNEL;
    assert_int_equal(st_iotsafe_init(&ios, &sim, &cfg), ST_E_ARG);
    /* The basic channel needs no channel at all. */
    cfg.flags = ST_IOTSAFE_BASIC_CHANNEL;
    assert_int_equal(st_iotsafe_init(&ios, &sim, &cfg), ST_OK);
    assert_int_equal(st_iotsafe_open(&ios), ST_OK);
    assert_int_equal(st_iotsafe_channel(&ios), 0);
    assert_int_equal(st_iotsafe_get_random(&ios, b, 8), ST_OK);
    assert_int_equal(st_iotsafe_close(&ios), ST_OK);
    assert_int_equal(CC.opens, 1);
}

static void test_arguments(void **st)
{
    (void)st;
    struct st_iotsafe_ref k = id_ref(0x01), bad = {0};
    uint8_t b[64];
    size_t n = sizeof b;
    struct st_iotsafe_object o;
    struct st_iotsafe_pubkey pk;
    struct st_iotsafe_keygen kg;
    assert_int_equal(st_iotsafe_init(NULL, &F.sim, NULL), ST_E_ARG);
    assert_int_equal(st_iotsafe_get_app_info(&F.ios, NULL), ST_E_ARG);
    assert_int_equal(st_iotsafe_foreach_object(&F.ios, NULL, NULL), ST_E_ARG);
    assert_int_equal(st_iotsafe_list_objects(&F.ios, NULL, NULL), ST_E_ARG);
    assert_int_equal(st_iotsafe_get_object(&F.ios, ST_IOTSAFE_FILE, &bad, &o), ST_E_ARG);
    assert_int_equal(st_iotsafe_get_object(&F.ios, ST_IOTSAFE_FILE, &k, NULL), ST_E_ARG);
    assert_int_equal(st_iotsafe_read_file(&F.ios, &k, NULL, &n), ST_E_ARG);
    assert_int_equal(st_iotsafe_read_file_at(&F.ios, &k, 70000, b, &n), ST_E_ARG);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, NULL, 32, b, &n), ST_E_ARG);
    assert_int_equal(st_iotsafe_sign_digest(&F.ios, &k, b, 65, b, &n), ST_E_ARG);
    assert_int_equal(st_iotsafe_sign(&F.ios, &k, NULL, b, &n), ST_E_ARG);
    assert_int_equal(st_iotsafe_read_public_key(&F.ios, &bad, &pk), ST_E_ARG);
    assert_int_equal(st_iotsafe_generate_key(&F.ios, &k, NULL), ST_E_ARG);
    memset(&pk, 0, sizeof pk);
    assert_int_equal(st_iotsafe_put_public_key(&F.ios, &k, &pk), ST_E_ARG);
    assert_int_equal(st_iotsafe_compute_dh(&F.ios, &k, &bad, b, &n), ST_E_ARG);
    assert_int_equal(st_iotsafe_prf(&F.ios, NULL, b, 10), ST_E_ARG);
    struct st_iotsafe_prf_params pp = {.mode = ST_IOTSAFE_PRF_PSK, .psk = &k};
    assert_int_equal(st_iotsafe_prf(&F.ios, &pp, b, 10), ST_E_ARG); /* no label/seed */
    (void)kg;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_removed_mid_sign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_in_get_response, setup_t0, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_sw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_applets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(g_state);
    return rc;
}
