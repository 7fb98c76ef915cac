/*
 * The IoT SAFE client (simtrust/iotsafe.h) end to end over the host
 * transports and simtrust-card's real front ends (IoT.04 B5/B6 over B.2.1
 * case A, and over PC/SC; D7: the applet does not care which):
 *
 *   test_transport_e2e at     AT modem: plain, --csim-no-channels (AT+CCHO),
 *                             --max-line 255 --urc-every 2 (the client chunks)
 *   test_transport_e2e pcsc   pcscd + vpcd reader 1
 *
 * Each run: random, object list, READ FILE of a 600-byte file, a signature of
 * a digest and of a long message (several update blocks), verified by the
 * card and independently with OpenSSL, a tampered signature refused.
 * Skips (exit 77) when simtrust-card is not built or pcscd does not answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simtrust/apdu.h"
#include "simtrust/at.h"
#include "simtrust/iotsafe.h"
#include "simtrust/pcsc.h"
#include "tr_support.h"
#include "vpcd_lock.h"

#define VPCD_PORT "35964"
#define READER "Virtual PCD 00 01"

/* ---- checks with OpenSSL ---- */

static bool openssl_verify(const uint8_t point[65], const uint8_t *digest, size_t dlen,
                           const uint8_t rs[64])
{
    uint8_t der[80];
    size_t der_len = sizeof(der);
    assert_int_equal(st_ecdsa_raw_to_der(rs, 64, der, &der_len), ST_OK);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, 65),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;
    assert_non_null(pc);
    assert_int_equal(EVP_PKEY_fromdata_init(pc), 1);
    assert_int_equal(EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_CTX *vc = EVP_PKEY_CTX_new(pkey, NULL);
    assert_non_null(vc);
    assert_int_equal(EVP_PKEY_verify_init(vc), 1);
    int ok = EVP_PKEY_verify(vc, der, der_len, digest, dlen);
    EVP_PKEY_CTX_free(vc);
    EVP_PKEY_free(pkey);
    return ok == 1;
}

/* ---- the client run ---- */

static void id_ref(struct st_iotsafe_ref *ref, uint8_t id)
{
    assert_int_equal(st_iotsafe_ref_id(ref, &id, 1), ST_OK);
}

static void expect_ok(struct st_iotsafe *ios, int rc, const char *what)
{
    if (rc != ST_OK) {
        const struct st_transport *tr = st_sim_transport(st_iotsafe_sim(ios));
        fail_msg("%s: %d %s (SW %04X, %s; transport: %s%s)", what, rc, st_strerror(rc),
                 st_sim_last_sw(st_iotsafe_sim(ios)), st_sim_detail(st_iotsafe_sim(ios)),
                 st_at_last_error(tr), st_pcsc_last_error_text(tr));
    }
}

/* Everything a TLS client and a provisioning tool do, over transport t. */
static void run_client(struct st_transport *t, uint16_t flags)
{
    static struct st_sim sim;
    struct st_iotsafe ios;
    struct st_iotsafe_config cfg;
    st_sim_init(&sim, t);
    st_iotsafe_config_default(&cfg);
    cfg.flags |= flags;
    assert_int_equal(st_iotsafe_init(&ios, &sim, &cfg), ST_OK);
    expect_ok(&ios, st_iotsafe_open(&ios), "open");
    assert_true(st_iotsafe_channel(&ios) >= 1);

    uint8_t rnd[40];
    expect_ok(&ios, st_iotsafe_get_random(&ios, rnd, sizeof(rnd)), "random");

    /* Discovery: the private key and the 600-byte file. */
    struct st_iotsafe_object objs[16];
    size_t count = 16;
    expect_ok(&ios, st_iotsafe_list_objects(&ios, objs, &count), "list");
    bool key = false, file = false;
    for (size_t i = 0; i < count; i++) {
        if (objs[i].kind == ST_IOTSAFE_PRIVATE_KEY && objs[i].id_len == 1 &&
            objs[i].id[0] == TRS_KEY_ID)
            key = true;
        if (objs[i].kind == ST_IOTSAFE_FILE && objs[i].id_len == 1 &&
            objs[i].id[0] == TRS_FILE_ID && objs[i].size == TRS_FILE_LEN)
            file = true;
    }
    assert_true(key && file);

    /* READ FILE: several chunks (and GET RESPONSE on a modem). */
    struct st_iotsafe_ref ref;
    id_ref(&ref, TRS_FILE_ID);
    static uint8_t buf[1024];
    size_t len = sizeof(buf);
    expect_ok(&ios, st_iotsafe_read_file(&ios, &ref, buf, &len), "read file");
    assert_int_equal(len, TRS_FILE_LEN);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(buf[i], trs_file_byte(i));

    /* The public key, for checks outside the card. */
    struct st_iotsafe_pubkey pk;
    id_ref(&ref, TRS_KEY_ID);
    expect_ok(&ios, st_iotsafe_read_public_key(&ios, &ref, &pk), "read public key");
    assert_int_equal(pk.point_len, 65);

    /* Sign a digest (TLS CertificateVerify), verify on the card and with OpenSSL. */
    uint8_t digest[32];
    SHA256((const uint8_t *)"hello world", 11, digest);
    uint8_t sig[64];
    size_t sig_len = sizeof(sig);
    struct st_iotsafe_ref key_ref;
    id_ref(&key_ref, TRS_KEY_ID);
    expect_ok(&ios, st_iotsafe_sign_digest(&ios, &key_ref, digest, 32, sig, &sig_len), "sign");
    assert_int_equal(sig_len, 64);
    assert_true(openssl_verify(pk.point, digest, 32, sig));
    struct st_iotsafe_ref pub_ref;
    id_ref(&pub_ref, TRS_KEY_ID);
    expect_ok(&ios, st_iotsafe_verify_digest(&ios, &pub_ref, digest, 32, sig, 64), "verify");
    sig[10] ^= 0x01;
    assert_int_equal(st_iotsafe_verify_digest(&ios, &pub_ref, digest, 32, sig, 64),
                     ST_E_CARD_SIGNATURE);

    /* A message longer than one APDU: the card hashes it over several update blocks. */
    static uint8_t msg[700];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 13 + 1);
    struct st_iotsafe_sig_input in = {
        .mode = ST_IOTSAFE_MODE_FULL_TEXT,
        .hash = 0x0001, /* SHA-256 */
        .alg = ST_IOTSAFE_SIG_ECDSA,
        .data = msg,
        .len = sizeof(msg),
    };
    sig_len = sizeof(sig);
    expect_ok(&ios, st_iotsafe_sign(&ios, &key_ref, &in, sig, &sig_len), "sign full text");
    SHA256(msg, sizeof(msg), digest);
    assert_true(openssl_verify(pk.point, digest, 32, sig));

    expect_ok(&ios, st_iotsafe_close(&ios), "close");
}

/* ---- AT ---- */

static bool start_modem(struct trs_card *card, const char *const *extra)
{
    if (trs_card_bin() == NULL)
        return false;
    const char *args[16] = {"--modem"};
    size_t n = 1;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    if (trs_card_start(card, args, "modem:") != 0)
        fail_msg("simtrust-card serve --modem did not start");
    return true;
}

static void at_run(const char *const *extra, const struct st_at_options *o, uint16_t flags,
                   bool want_cgla, size_t want_max_apdu)
{
    static struct trs_card card;
    if (!start_modem(&card, extra))
        skip();
    struct st_transport t;
    char err[200] = "";
    int st = st_at_open(&t, card.ready, o, err, sizeof(err));
    if (st != ST_OK)
        fail_msg("st_at_open: %d %s", st, err);
    if (want_max_apdu != 0)
        assert_int_equal(t.max_apdu, want_max_apdu);
    run_client(&t, flags);
    assert_int_equal(st_at_uses_cgla(&t), want_cgla);
    run_client(&t, flags); /* again on the same connection: sessions closed properly */
    t.ops->close(t.ctx);
    assert_int_equal(trs_card_stop(&card), 0);
}

static void test_at_plain(void **state)
{
    (void)state;
    at_run(NULL, NULL, 0, false, 0);
}

static void test_at_no_channels(void **state)
{
    (void)state;
    static const char *const args[] = {"--csim-no-channels", NULL};
    /* The client uses the transport's open_channel (AT+CCHO after the fallback)... */
    at_run(args, NULL, 0, true, 0);
    /* ...or MANAGE CHANNEL through transmit(), emulated over AT+CCHO. */
    at_run(args, NULL, ST_IOTSAFE_MANAGE_CHANNEL, true, 0);
}

static void test_at_short_lines(void **state)
{
    (void)state;
    static const char *const args[] = {"--max-line", "255", "--urc-every", "2", NULL};
    struct st_at_options o;
    memset(&o, 0, sizeof(o)); /* the default line limit is the u-blox 255 */
    at_run(args, &o, 0, false, 115);
    o.channels = ST_AT_CHANNELS_CGLA;
    at_run(args, &o, 0, true, 115);
}

/* ---- PC/SC ---- */

static bool pcsc_card_present(void)
{
    struct st_transport t;
    if (st_pcsc_open(&t, READER, NULL, 0) != ST_OK)
        return false;
    t.ops->close(t.ctx);
    return true;
}

static void test_pcsc(void **state)
{
    (void)state;
    if (trs_card_bin() == NULL || st_pcsc_list_readers(NULL, NULL, NULL, 0) < 0)
        skip();
    static struct trs_card card;
    static const char *const args[] = {"--vpcd", "127.0.0.1:" VPCD_PORT, NULL};
    if (trs_card_start(&card, args, "vpcd:") != 0)
        fail_msg("simtrust-card serve --vpcd did not start");
    long long deadline = trs_now_ms() + 20000;
    while (!pcsc_card_present() && trs_now_ms() < deadline)
        usleep(100000);
    struct st_transport t;
    char err[256] = "";
    int st = st_pcsc_open(&t, READER, err, sizeof(err));
    if (st != ST_OK)
        fail_msg("st_pcsc_open: %d %s", st, err);
    run_client(&t, 0);
    run_client(&t, ST_IOTSAFE_SIG_LEN1);
    t.ops->close(t.ctx);
    assert_int_equal(trs_card_stop(&card), 0);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *which = argc > 1 ? argv[1] : "at";
    if (trs_card_bin() == NULL) {
        printf("simtrust-card not built: skipped\n");
        return 77;
    }
    if (strcmp(which, "pcsc") == 0) {
        st_test_vpcd_lock();
        if (st_pcsc_list_readers(NULL, NULL, NULL, 0) < 0) {
            printf("pcscd does not answer: skipped\n");
            return 77;
        }
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_pcsc)};
        return cmocka_run_group_tests_name("e2e_pcsc", tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_at_plain),
        cmocka_unit_test(test_at_no_channels),
        cmocka_unit_test(test_at_short_lines),
    };
    return cmocka_run_group_tests_name("e2e_at", tests, NULL, NULL);
}
