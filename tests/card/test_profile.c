/*
 * Factory profiles (card/profile.h, docs/profile.md): the documented example
 * with real PEM files, every kind of invalid field with its message, and the
 * delivery record (public data only: G1, K1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "card_crypto.h"
#include "image.h"
#include "profile.h"
#include "st_hex.h"
#include "store_fixture.h"

/* The example of docs/profile.md, verbatim. */
static const char example[] =
    "{\n"
    "  \"iccid\": \"89882280000000000017\",\n"
    "  \"eid\": \"89049032000000000000000000000017\",\n"
    "  \"aids\": [\"A0000005590010\"],\n"
    "  \"signature_length_form\": \"33 00 40\",\n"
    "  \"private_keys\": [\n"
    "    {\"id\": \"01\", \"label\": \"client\", \"type\": \"p256\", \"usage\": \"tls13\", "
    "\"generate\": true, \"public_id\": \"01\"},\n"
    "    {\"id\": \"02\", \"label\": \"imported\", \"type\": \"p256\", \"pem_file\": "
    "\"cli-key.pem\", \"public_id\": \"02\"},\n"
    "    {\"id\": \"04\", \"label\": \"ecdhe\", \"type\": \"p256-volatile\", \"functions\": "
    "[\"keygen\", \"key_agreement\"]}\n"
    "  ],\n"
    "  \"public_keys\": [\n"
    "    {\"id\": \"05\", \"label\": \"peer\", \"type\": \"p256-volatile\", \"access\": "
    "[\"read\", \"update\"]},\n"
    "    {\"id\": \"06\", \"label\": \"ca-key\", \"type\": \"p256\", \"pem_file\": "
    "\"ca-pub.pem\"}\n"
    "  ],\n"
    "  \"files\": [\n"
    "    {\"id\": \"02\", \"label\": \"client-cert\", \"usage\": \"certificate\", \"pem_file\": "
    "\"cli.pem\"},\n"
    "    {\"id\": \"03\", \"label\": \"server-cert\", \"usage\": \"certificate\", \"pem_file\": "
    "\"srv.pem\"},\n"
    "    {\"id\": \"07\", \"label\": \"notes\", \"usage\": \"general\", \"hex\": \"0102\", "
    "\"size\": 64}\n"
    "  ],\n"
    "  \"secret_keys\": [\n"
    "    {\"id\": \"10\", \"label\": \"psk1\", \"hex\": \"00112233445566778899aabbccddeeff\", "
    "\"identity\": \"device-0001\", \"identity_file_id\": \"11\"}\n"
    "  ]\n"
    "}\n";

static const char psk_hex[] = "00112233445566778899aabbccddeeff";

struct fx {
    char *dir;
    EVP_PKEY *cli_key, *ca_key, *srv_key;
    uint8_t cli_der[2048], srv_der[4096];
    int cli_der_len, srv_der_len;
    struct st_card_state *s;
};

static X509 *make_cert(EVP_PKEY *key, const char *cn, long serial)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, name);
    X509_NAME_free(name);
    ASN1_TIME_set_string(X509_getm_notBefore(x), "20260101000000Z");
    ASN1_TIME_set_string(X509_getm_notAfter(x), "20361231235959Z");
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static void path_in(const struct fx *f, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->dir, name);
}

static void write_pem(const struct fx *f, const char *name, int (*w)(FILE *, void *), void *obj)
{
    char p[4300];
    path_in(f, name, p, sizeof(p));
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    assert_true(w(fp, obj) == 1);
    fclose(fp);
}

static int w_priv(FILE *fp, void *k)
{
    return PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL);
}

static int w_pub(FILE *fp, void *k)
{
    return PEM_write_PUBKEY(fp, k);
}

static int w_cert(FILE *fp, void *x)
{
    return PEM_write_X509(fp, x);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = fx_mkdtemp();
    f->cli_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    f->ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    f->srv_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(f->cli_key);
    write_pem(f, "cli-key.pem", w_priv, f->cli_key);
    write_pem(f, "ca-pub.pem", w_pub, f->ca_key);
    X509 *cli = make_cert(f->cli_key, "device-0001", 1);
    X509 *srv = make_cert(f->srv_key, "server.example", 2);
    X509 *ca = make_cert(f->ca_key, "Example CA", 3);
    write_pem(f, "cli.pem", w_cert, cli);
    /* srv.pem is a chain: server certificate, then the CA's. */
    char p[4300];
    path_in(f, "srv.pem", p, sizeof(p));
    FILE *fp = fopen(p, "w");
    PEM_write_X509(fp, srv);
    PEM_write_X509(fp, ca);
    fclose(fp);
    unsigned char *q = f->cli_der;
    f->cli_der_len = i2d_X509(cli, &q);
    q = f->srv_der;
    f->srv_der_len = i2d_X509(srv, &q);
    f->srv_der_len += i2d_X509(ca, &q);
    /* DER of the client certificate, for der_file sources. */
    path_in(f, "cli.der", p, sizeof(p));
    assert_int_equal(fx_write_file(p, f->cli_der, (size_t)f->cli_der_len), 0);
    X509_free(cli);
    X509_free(srv);
    X509_free(ca);
    f->s = calloc(1, sizeof(*f->s));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    const char *names[] = {"cli-key.pem", "ca-pub.pem", "cli.pem",
                           "srv.pem",     "cli.der",    "card.img"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char p[4300];
        path_in(f, names[i], p, sizeof(p));
        unlink(p);
    }
    fx_rmdir(f->dir);
    EVP_PKEY_free(f->cli_key);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->srv_key);
    free(f->s);
    free(f);
    return 0;
}

static struct st_object *find(struct st_card_state *s, enum st_obj_kind k, uint8_t id)
{
    return st_objects_find(s, k, false, &id, 1);
}

static void ec_scalar(EVP_PKEY *k, uint8_t out[32])
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &bn), 1);
    assert_int_equal(BN_bn2binpad(bn, out, 32), 32);
    BN_clear_free(bn);
}

static void ec_point(EVP_PKEY *k, uint8_t out[65])
{
    size_t n = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, out, 65, &n), 1);
    assert_int_equal(n, 65);
}

/* The pair signs and verifies: the public key really is the private key's half. */
static void assert_pair(const struct st_object *priv, const struct st_object *pub)
{
    uint8_t dig[32], sig[256];
    size_t sig_len = 0;
    memset(dig, 0x42, sizeof(dig));
    assert_int_equal(st_crypto_sign_digest(
                         priv, priv->key_type == ST_KEY_RSA2048 ? ST_SIG_RSA_PSS : ST_SIG_ECDSA,
                         dig, sizeof(dig), sig, &sig_len),
                     0);
    assert_int_equal(st_crypto_verify_digest(
                         pub, priv->key_type == ST_KEY_RSA2048 ? ST_SIG_RSA_PSS : ST_SIG_ECDSA, dig,
                         sizeof(dig), sig, sig_len),
                     1);
}

static void build_ok(struct fx *f, const char *json)
{
    char err[300] = "";
    if (st_profile_build(json, strlen(json), f->dir, f->s, err, sizeof(err)) != 0)
        fail_msg("profile refused: %s", err);
}

static void test_example(void **state)
{
    struct fx *f = *state;
    build_ok(f, example);
    struct st_card_state *s = f->s;
    static const uint8_t iccid[10] = {0x98, 0x88, 0x22, 0x08, 0, 0, 0, 0, 0, 0x71};
    assert_int_equal(s->iccid_len, 10);
    assert_memory_equal(s->iccid, iccid, 10);
    assert_int_equal(s->eid_len, 16);
    assert_int_equal(s->eid[0], 0x89);
    assert_int_equal(s->eid[15], 0x17);
    assert_int_equal(s->aid_count, 1);
    assert_memory_equal(s->aid[0], "\xA0\x00\x00\x05\x59\x00\x10", 7);
    assert_int_equal(s->sig_form, ST_SIG_FORM_2BYTE);

    /* 01: generated in the card, with its public half as public key 01. */
    struct st_object *p1 = find(s, ST_OBJ_PRIVATE_KEY, 1), *q1 = find(s, ST_OBJ_PUBLIC_KEY, 1);
    assert_non_null(p1);
    assert_non_null(q1);
    assert_int_equal(p1->key_type, ST_KEY_P256);
    assert_int_equal(p1->value_len, 32);
    assert_int_equal(p1->state, ST_STATE_ACTIVATED);
    assert_int_equal(p1->usage, ST_USAGE_TLS13);
    assert_int_equal(p1->functions, ST_FN_SIGN | ST_FN_KEYGEN | ST_FN_KEY_AGREEMENT);
    assert_int_equal(p1->sig_algos, ST_SIG_ECDSA);
    assert_int_equal(p1->hash_algos, 0x0007);
    assert_int_equal(p1->key_agreement, ST_KA_ECKA);
    assert_int_equal(p1->access, ST_ACCESS_UPDATE);
    assert_int_equal(q1->value_len, 65);
    assert_int_equal(q1->label_len, 6);
    assert_memory_equal(q1->label, "client", 6);
    assert_int_equal(q1->functions, ST_FN_SIGN);
    assert_int_equal(q1->access, ST_ACCESS_READ);
    assert_pair(p1, q1);

    /* 02: imported from PEM; its public half is public key 02. */
    uint8_t scalar[32], point[65];
    ec_scalar(f->cli_key, scalar);
    ec_point(f->cli_key, point);
    struct st_object *p2 = find(s, ST_OBJ_PRIVATE_KEY, 2), *q2 = find(s, ST_OBJ_PUBLIC_KEY, 2);
    assert_non_null(p2);
    assert_non_null(q2);
    assert_int_equal(p2->value_len, 32);
    assert_memory_equal(p2->value, scalar, 32);
    assert_int_equal(q2->value_len, 65);
    assert_memory_equal(q2->value, point, 65);
    assert_memory_equal(q2->label, "imported", 8);

    /* 04: volatile ECDHE key, empty, functions overridden. */
    struct st_object *p4 = find(s, ST_OBJ_PRIVATE_KEY, 4);
    assert_non_null(p4);
    assert_int_equal(p4->key_type, ST_KEY_P256_VOLATILE);
    assert_int_equal(p4->value_len, 0);
    assert_int_equal(p4->state, ST_STATE_EMPTY);
    assert_int_equal(p4->functions, ST_FN_KEYGEN | ST_FN_KEY_AGREEMENT);

    /* 05 volatile peer key (read|update), 06 the CA key from PEM. */
    struct st_object *q5 = find(s, ST_OBJ_PUBLIC_KEY, 5), *q6 = find(s, ST_OBJ_PUBLIC_KEY, 6);
    assert_non_null(q5);
    assert_int_equal(q5->access, ST_ACCESS_READ | ST_ACCESS_UPDATE);
    assert_int_equal(q5->value_len, 0);
    assert_non_null(q6);
    ec_point(f->ca_key, point);
    assert_int_equal(q6->value_len, 65);
    assert_memory_equal(q6->value, point, 65);
    assert_int_equal(q6->sig_algos, ST_SIG_ECDSA);

    /* Files: certificates as DER, the chain kept whole; a sized general file. */
    struct st_object *f2 = find(s, ST_OBJ_FILE, 2), *f3 = find(s, ST_OBJ_FILE, 3);
    struct st_object *f7 = find(s, ST_OBJ_FILE, 7), *f11 = find(s, ST_OBJ_FILE, 0x11);
    assert_non_null(f2);
    assert_int_equal(f2->usage, ST_FILE_CERTIFICATE);
    assert_int_equal(f2->access, ST_ACCESS_READ);
    assert_int_equal(f2->value_len, f->cli_der_len);
    assert_memory_equal(f2->value, f->cli_der, (size_t)f->cli_der_len);
    assert_non_null(f3);
    assert_int_equal(f3->value_len, f->srv_der_len);
    assert_memory_equal(f3->value, f->srv_der, (size_t)f->srv_der_len);
    assert_non_null(f7);
    assert_int_equal(f7->usage, ST_FILE_GENERAL);
    assert_int_equal(f7->value_len, 64);
    assert_int_equal(f7->value[0], 1);
    assert_int_equal(f7->value[1], 2);
    assert_int_equal(f7->value[63], 0);

    /* PSK 10 and its identity: file 11, same label, usage general (J2, J3, K1). */
    struct st_object *k = find(s, ST_OBJ_SECRET_KEY, 0x10);
    assert_non_null(k);
    assert_int_equal(k->key_type, ST_KEY_HMAC);
    assert_int_equal(k->value_len, 16);
    assert_memory_equal(k->value,
                        "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16);
    assert_int_equal(k->functions, ST_FN_KEY_DERIVATION);
    assert_int_equal(k->key_derivation, ST_KD_PRF_SHA256 | ST_KD_HKDF);
    assert_int_equal(k->access, 0);
    assert_non_null(f11);
    assert_int_equal(f11->usage, ST_FILE_GENERAL);
    assert_int_equal(f11->value_len, 11);
    assert_memory_equal(f11->value, "device-0001", 11);
    assert_memory_equal(f11->label, "psk1", 4);

    /* The personalised state survives an image round trip. */
    char p[4300], err[256] = "";
    path_in(f, "card.img", p, sizeof(p));
    struct st_card_state *back = calloc(1, sizeof(*back));
    assert_int_equal(st_image_save(p, s, NULL, err, sizeof(err)), 0);
    assert_int_equal(st_image_load(p, back, err, sizeof(err)), 0);
    assert_true(fx_state_equal(s, back, err, sizeof(err)));
    free(back);
}

static void test_other_types_and_sources(void **state)
{
    struct fx *f = *state;
    /* RSA generated, brainpool generated, public key from a certificate's DER
     * file and from a raw 04||X||Y point, inline PEM, overrides, 19-digit ICCID. */
    uint8_t point[65];
    char point_hex[131];
    ec_point(f->ca_key, point);
    st_hex_encode(point, 65, point_hex);
    char pem[1024] = "";
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, f->srv_key);
    char *mem;
    long n = BIO_get_mem_data(b, &mem);
    json_t *pem_str = json_stringn(mem, (size_t)n);
    char *pem_json = json_dumps(pem_str, JSON_ENCODE_ANY);
    snprintf(pem, sizeof(pem), "%s", pem_json);
    free(pem_json);
    json_decref(pem_str);
    BIO_free(b);
    char json[4096];
    snprintf(json, sizeof(json),
             "{\"iccid\": \"8988228000000000001\", \"signature_length_form\": \"3340\","
             " \"atr\": \"3B 80 80 01 01\", \"aids\": [\"A0000005590010\", \"A000000559001001\"],"
             " \"private_keys\": ["
             "  {\"id\": \"3030 36\", \"type\": \"rsa2048\", \"generate\": true, \"public_id\": "
             "\"303036\", \"usage\": \"tls12\", \"hash_algos\": [\"sha256\"]},"
             "  {\"id\": \"21\", \"label\": \"bp\", \"type\": \"brainpool256\", \"generate\": true,"
             "   \"public_id\": \"21\", \"access\": [], \"comment\": \"free text\"},"
             "  {\"id\": \"22\", \"type\": \"p256\"}],"
             " \"public_keys\": ["
             "  {\"id\": \"07\", \"type\": \"p256\", \"der_file\": \"cli.der\"},"
             "  {\"id\": \"08\", \"type\": \"p256\", \"hex\": \"%s\", \"sig_algos\": [\"ecdsa\"]},"
             "  {\"id\": \"09\", \"type\": \"p256\", \"pem\": %s}],"
             " \"files\": [{\"id\": \"01\", \"usage\": \"certificate\", \"der_file\": \"cli.der\"},"
             "  {\"id\": \"02\", \"size\": 16}, {\"id\": \"03\", \"pem_file\": \"cli.pem\"}],"
             " \"secret_keys\": [{\"id\": \"01\", \"hex\": \"%0128d\", \"key_derivation\": "
             "[\"hkdf\"]}]}",
             point_hex, pem, 0);
    build_ok(f, json);
    struct st_card_state *s = f->s;
    static const uint8_t iccid[10] = {0x98, 0x88, 0x22, 0x08, 0, 0, 0, 0, 0, 0xF1};
    assert_memory_equal(s->iccid, iccid, 10);
    assert_int_equal(s->eid_len, 0);
    assert_int_equal(s->sig_form, ST_SIG_FORM_1BYTE);
    assert_int_equal(s->atr_len, 5);
    assert_int_equal(s->aid_count, 2);
    assert_int_equal(s->aid_len[1], 8);

    const uint8_t id006[3] = {0x30, 0x30, 0x36};
    struct st_object *r = st_objects_find(s, ST_OBJ_PRIVATE_KEY, false, id006, 3);
    struct st_object *rp = st_objects_find(s, ST_OBJ_PUBLIC_KEY, false, id006, 3);
    assert_non_null(r);
    assert_non_null(rp);
    assert_int_equal(r->key_type, ST_KEY_RSA2048);
    assert_int_equal(r->functions, ST_FN_SIGN | ST_FN_KEYGEN);
    assert_int_equal(r->sig_algos, ST_SIG_RSA_PKCS1 | ST_SIG_RSA_PSS);
    assert_int_equal(r->key_agreement, 0);
    assert_int_equal(r->usage, ST_USAGE_TLS12);
    assert_int_equal(r->hash_algos, ST_HASH_SHA256);
    assert_int_equal(rp->usage, ST_USAGE_TLS12);
    assert_true(r->value_len > 1000);
    assert_pair(r, rp);

    struct st_object *bp = find(s, ST_OBJ_PRIVATE_KEY, 0x21);
    assert_int_equal(bp->key_type, ST_KEY_BP256);
    assert_int_equal(bp->access, 0);
    assert_pair(bp, find(s, ST_OBJ_PUBLIC_KEY, 0x21));
    /* An empty container for on-board key generation later (H1). */
    struct st_object *e = find(s, ST_OBJ_PRIVATE_KEY, 0x22);
    assert_int_equal(e->value_len, 0);
    assert_int_equal(e->state, ST_STATE_EMPTY);

    uint8_t cli_point[65];
    ec_point(f->cli_key, cli_point);
    assert_memory_equal(find(s, ST_OBJ_PUBLIC_KEY, 7)->value, cli_point, 65);
    assert_memory_equal(find(s, ST_OBJ_PUBLIC_KEY, 8)->value, point, 65);
    ec_point(f->srv_key, point);
    assert_memory_equal(find(s, ST_OBJ_PUBLIC_KEY, 9)->value, point, 65);

    assert_int_equal(find(s, ST_OBJ_FILE, 1)->value_len, f->cli_der_len);
    assert_int_equal(find(s, ST_OBJ_FILE, 2)->value_len, 16);
    /* A general file from PEM is stored as the DER inside. */
    assert_memory_equal(find(s, ST_OBJ_FILE, 3)->value, f->cli_der, (size_t)f->cli_der_len);
    struct st_object *k = find(s, ST_OBJ_SECRET_KEY, 1);
    assert_int_equal(k->value_len, ST_SECRET_MAX);
    assert_int_equal(k->key_derivation, ST_KD_HKDF);
}

/* ---- invalid profiles ---- */

/* Replaces ' by " so the cases below stay readable. */
static const char *q(const char *in)
{
    static char buf[16384];
    size_t n = strlen(in);
    assert_true(n < sizeof(buf));
    for (size_t i = 0; i <= n; i++)
        buf[i] = in[i] == '\'' ? '"' : in[i];
    return buf;
}

static void expect_error(struct fx *f, const char *json, size_t len, const char *want)
{
    char err[300] = "";
    memset(f->s, 0xA5, sizeof(*f->s));
    if (st_profile_build(json, len, f->dir, f->s, err, sizeof(err)) == 0)
        fail_msg("accepted: %s", json);
    if (strstr(err, want) == NULL)
        fail_msg("error \"%s\" lacks \"%s\" for %s", err, want, json);
    for (size_t i = 0; i < sizeof(*f->s); i++)
        if (((uint8_t *)f->s)[i] != 0xA5)
            fail_msg("state modified on error for %s", json);
}

#define ICCID "'iccid': '89882280000000000017'"

static void test_invalid(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{", "not valid JSON: line 1"},
        {"[]", "must be a JSON object"},
        {"{}", "iccid: required"},
        {"{'iccid': 12}", "iccid: must be a string"},
        {"{'iccid': '89882280000000001'}", "iccid: must be 18 to 20 digits"},
        {"{'iccid': '898822800000000000171'}", "iccid: must be 18 to 20 digits"},
        {"{'iccid': '8988228000000000001A'}", "iccid: must be 18 to 20 digits"},
        {"{" ICCID ", 'eid': '8904903200000000000000000000001'}", "eid: must be 32 digits"},
        {"{" ICCID ", 'eid': '8904903200000000000000000000001F'}", "eid: must be 32 digits"},
        {"{" ICCID ", 'colour': 'red'}", "colour: unknown field"},
        {"{" ICCID ", 'aids': []}", "aids: must be an array of 1 to 4 AIDs"},
        {"{" ICCID ", 'aids': ['A0', 'A1', 'A2', 'A3', 'A4']}", "aids: must be an array"},
        {"{" ICCID ", 'aids': ['A0000005']}", "aids[0]: must be 5 to 16 bytes of hex"},
        {"{" ICCID ", 'aids': ['A0000005590010', 'XYZ']}", "aids[1]: must be 5 to 16 bytes"},
        {"{" ICCID ", 'signature_length_form': '33 41'}",
         "signature_length_form: must be \"33 00 40\" or \"33 40\""},
        {"{" ICCID ", 'atr': '3B'}", "atr: must be 2 to 33 bytes of hex"},
        {"{" ICCID ", 'private_keys': {}}", "private_keys: must be an array of objects"},
        {"{" ICCID ", 'private_keys': [1]}", "private_keys[0]: must be an object"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256'}, {'id': '02', 'type': "
         "'p384'}]}",
         "private_keys[1].type: unknown type \"p384\""},
        {"{" ICCID ", 'private_keys': [{'id': '01'}]}", "private_keys[0].type: required"},
        {"{" ICCID ", 'private_keys': [{'type': 'p256'}]}", "private_keys[0].id: required"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'colour': 1}]}",
         "private_keys[0].colour: unknown field"},
        {"{" ICCID ", 'private_keys': [{'id': '', 'type': 'p256'}]}",
         "private_keys[0].id: must be 1 to 20 bytes of hex"},
        {"{" ICCID ", 'private_keys': [{'id': '0102030405060708090a0b0c0d0e0f101112131415', "
         "'type': 'p256'}]}",
         "private_keys[0].id: must be 1 to 20 bytes of hex"},
        {"{" ICCID ", 'private_keys': [{'id': '0g', 'type': 'p256'}]}",
         "private_keys[0].id: must be 1 to 20 bytes of hex"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'label': "
         "'0123456789012345678901234567890123456789012345678901234567890'}]}",
         "private_keys[0].label: must be 1 to 60 characters"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'label': 'caf\\u00e9'}]}",
         "private_keys[0].label: must be printable ASCII"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256'}, {'id': '01', 'type': "
         "'p256'}]}",
         "private_keys[1].id: duplicate private key ID 01 (already used by private_keys[0])"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'label': 'a', 'type': 'p256'}, {'id': '02', "
         "'label': 'a', 'type': 'p256'}]}",
         "private_keys[1].label: duplicate private key label \"a\""},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'generate': true, "
         "'pem_file': 'cli-key.pem'}]}",
         "private_keys[0].generate: cannot be combined with \"pem_file\""},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'pem_file': 'cli-key.pem', "
         "'hex': '00'}]}",
         "private_keys[0].hex: cannot be combined with \"pem_file\""},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'generate': 1}]}",
         "private_keys[0].generate: must be true or false"},
        {"{" ICCID ", 'private_keys': [{'id': '04', 'type': 'p256-volatile', 'generate': true}]}",
         "private_keys[0].generate: a volatile key has no stored value"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'pem_file': 'none.pem'}]}",
         "private_keys[0].pem_file: cannot read"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'pem_file': 'cli.pem'}]}",
         "private_keys[0].pem_file: not a readable p256 private key"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'rsa2048', 'pem_file': "
         "'cli-key.pem'}]}",
         "private_keys[0].pem_file: not a readable rsa2048 private key"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'brainpool256', 'pem_file': "
         "'cli-key.pem'}]}",
         "private_keys[0].pem_file: not a readable brainpool256 private key"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'hex': '3000'}]}",
         "private_keys[0].hex: not a readable p256 private key"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'functions': ['fly']}]}",
         "private_keys[0].functions: unknown function \"fly\""},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'functions': 'sign'}]}",
         "private_keys[0].functions: must be an array of strings"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'usage': 'tls14'}]}",
         "private_keys[0].usage: unknown usage \"tls14\""},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'access': ['write']}]}",
         "private_keys[0].access: unknown access right \"write\""},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'hash_algos': ['md5']}]}",
         "private_keys[0].hash_algos: unknown hash algorithm \"md5\""},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'sig_algos': ['dsa']}]}",
         "private_keys[0].sig_algos: unknown signature algorithm \"dsa\""},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256', 'public_id': '02'}]}",
         "private_keys[0].public_id: must equal the private key's id (the pair shares one ID)"},
        {"{" ICCID ", 'private_keys': [{'id': '06', 'type': 'p256', 'generate': true, "
         "'public_id': '06'}], 'public_keys': [{'id': '06', 'type': 'p256'}]}",
         "public_keys[0].id: duplicate public key ID 06 (already used by "
         "private_keys[0].public_id)"},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'label': 'x', 'type': 'p256', 'public_id': "
         "'01'}], 'public_keys': [{'id': '02', 'label': 'x', 'type': 'p256'}]}",
         "public_keys[0].label: duplicate public key label \"x\""},
        {"{" ICCID ", 'private_keys': [{'id': '01', 'type': 'p256'}, {'id': '02', 'type': "
         "'p256'}, {'id': '03', 'type': 'p256'}, {'id': '04', 'type': 'p256'}, {'id': '05', "
         "'type': 'p256'}, {'id': '06', 'type': 'p256'}, {'id': '07', 'type': 'p256'}, {'id': "
         "'08', 'type': 'p256'}, {'id': '09', 'type': 'p256'}]}",
         "private_keys[8].id: too many private keys (the card holds 8)"},
        {"{" ICCID ", 'public_keys': [{'id': '05', 'type': 'p256-volatile', 'pem_file': "
         "'ca-pub.pem'}]}",
         "public_keys[0].pem_file: a volatile key has no stored value"},
        {"{" ICCID ", 'public_keys': [{'id': '05', 'type': 'p256', 'pem': 'junk'}]}",
         "public_keys[0].pem: not a p256 public key"},
        {"{" ICCID ", 'public_keys': [{'id': '05', 'type': 'p256', 'hex': '04"
         "0000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000'}]}",
         "public_keys[0].hex: not a p256 public key"},
        {"{" ICCID ", 'public_keys': [{'id': '05', 'type': 'rsa2048', 'pem_file': "
         "'ca-pub.pem'}]}",
         "public_keys[0].pem_file: not a rsa2048 public key"},
        {"{" ICCID ", 'public_keys': [{'id': '05', 'type': 'p256', 'generate': true}]}",
         "public_keys[0].generate: unknown field"},
        {"{" ICCID ", 'files': [{'id': '02', 'usage': 'certificate', 'hex': '3003020101'}]}",
         "files[0].hex: not a DER X.509 certificate"},
        {"{" ICCID ", 'files': [{'id': '02', 'usage': 'certificate', 'pem_file': "
         "'cli-key.pem'}]}",
         "files[0].pem_file: PEM block 1 is \"PRIVATE KEY\", not \"CERTIFICATE\""},
        {"{" ICCID ", 'files': [{'id': '02', 'pem': 'no pem here'}]}",
         "files[0].pem: no PEM block found"},
        {"{" ICCID ", 'files': [{'id': '02', 'usage': 'cert'}]}",
         "files[0].usage: unknown usage \"cert\""},
        {"{" ICCID ", 'files': [{'id': '02', 'hex': '010203', 'size': 2}]}",
         "files[0].size: 2 is smaller than the content (3 bytes)"},
        {"{" ICCID ", 'files': [{'id': '02', 'size': 4097}]}",
         "files[0].size: must be an integer from 1 to 4096"},
        {"{" ICCID ", 'files': [{'id': '02', 'size': '64'}]}", "files[0].size: must be an integer"},
        {"{" ICCID ", 'files': [{'id': '02', 'der_file': '.'}]}", "files[0].der_file: "},
        {"{" ICCID ", 'files': [{'id': '02', 'type': 'p256'}]}", "files[0].type: unknown field"},
        {"{" ICCID ", 'secret_keys': [{'id': '10', 'hex': '"
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00'}]}",
         "secret_keys[0].hex: must be 1 to 64 bytes of hex"},
        {"{" ICCID ", 'secret_keys': [{'id': '10', 'hex': '0'}]}",
         "secret_keys[0].hex: must be 1 to 64 bytes of hex"},
        {"{" ICCID ", 'secret_keys': [{'id': '10', 'type': 'aes'}]}",
         "secret_keys[0].type: unknown type \"aes\""},
        {"{" ICCID ", 'secret_keys': [{'id': '10', 'label': 'p', 'identity': 'dev'}]}",
         "secret_keys[0].identity_file_id: required with \"identity\""},
        {"{" ICCID ", 'secret_keys': [{'id': '10', 'label': 'p', 'identity_file_id': '11'}]}",
         "secret_keys[0].identity: required with \"identity_file_id\""},
        {"{" ICCID ", 'secret_keys': [{'id': '10', 'identity': 'dev', 'identity_file_id': "
         "'11'}]}",
         "secret_keys[0].label: required with \"identity\""},
        {"{" ICCID ", 'secret_keys': [{'id': '10', 'label': 'p', 'identity': '', "
         "'identity_file_id': '11'}]}",
         "secret_keys[0].identity: must be 1 to 4096 bytes"},
        {"{" ICCID ", 'files': [{'id': '11'}], 'secret_keys': [{'id': '10', 'label': 'p', "
         "'identity': 'dev', 'identity_file_id': '11'}]}",
         "secret_keys[0].identity_file_id: duplicate file ID 11 (already used by files[0])"},
        {"{" ICCID ", 'files': [{'id': '01', 'label': 'p'}], 'secret_keys': [{'id': '10', "
         "'label': 'p', 'identity': 'dev', 'identity_file_id': '11'}]}",
         "secret_keys[0].label: duplicate file label \"p\" (already used by files[0])"},
        {"{" ICCID ", 'secret_keys': [{'id': '10', 'key_derivation': ['md5']}]}",
         "secret_keys[0].key_derivation: unknown key derivation \"md5\""},
        {"{" ICCID ", 'iccid': '89882280000000000018'}", "duplicate object key"},
        {"{" ICCID ", 'secret_keys': [{'id': '10', 'label': 'a\\u0000b'}]}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *json = q(cases[i].json);
        expect_error(f, json, strlen(json), cases[i].want);
    }
    /* Input that is not NUL-terminated, and a raw NUL inside the text. */
    expect_error(f, "{}xxxx", 2, "iccid: required");
    expect_error(f, "{\"iccid\"\0: 1}", 12, "not valid JSON");
    print_message("%zu invalid profiles refused with their messages\n",
                  sizeof(cases) / sizeof(cases[0]) + 2);
}

/* ---- delivery record ---- */

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p != '\0'; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return false;
}

static json_t *find_entry(json_t *arr, const char *key, const char *val)
{
    size_t i;
    json_t *e;
    for (i = 0; i < json_array_size(arr); i++) {
        e = json_array_get(arr, i);
        if (strcmp(json_string_value(json_object_get(e, key)), val) == 0)
            return e;
    }
    return NULL;
}

static void test_delivery(void **state)
{
    struct fx *f = *state;
    build_ok(f, example);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_int_equal(st_profile_delivery(f->s, out), 0);
    fclose(out);

    /* Never a private key or a PSK value (G1, K1, I9). */
    assert_false(contains_ci(text, psk_hex));
    assert_false(contains_ci(text, "PRIVATE KEY"));
    for (uint8_t id = 1; id <= 2; id++) {
        char hex[65];
        const struct st_object *p = find(f->s, ST_OBJ_PRIVATE_KEY, id);
        st_hex_encode(p->value, 32, hex);
        assert_false(contains_ci(text, hex));
        st_hex_encode(p->value, 8, hex); /* not even a fragment */
        assert_false(contains_ci(text, hex));
    }

    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (root == NULL)
        fail_msg("delivery is not JSON: %s\n%s", jerr.text, text);
    assert_string_equal(json_string_value(json_object_get(root, "iccid")), "89882280000000000017");
    assert_string_equal(json_string_value(json_object_get(root, "eid")),
                        "89049032000000000000000000000017");

    json_t *pubs = json_object_get(root, "public_keys");
    assert_int_equal(json_array_size(pubs), 3); /* 01, 02, 06; volatile 05 is empty */
    json_t *e = find_entry(pubs, "id", "01");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "label")), "client");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "p256");
    assert_non_null(strstr(json_string_value(json_object_get(e, "pem")), "BEGIN PUBLIC KEY"));
    /* The PEM is the card's public key 01. */
    const char *pem = json_string_value(json_object_get(e, "pem"));
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(k);
    uint8_t point[65];
    ec_point(k, point);
    EVP_PKEY_free(k);
    assert_memory_equal(point, find(f->s, ST_OBJ_PUBLIC_KEY, 1)->value, 65);
    assert_non_null(find_entry(pubs, "id", "06"));

    json_t *certs = json_object_get(root, "certificates");
    assert_int_equal(json_array_size(certs), 2);
    e = find_entry(certs, "file_id", "02");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "label")), "client-cert");
    assert_string_equal(json_string_value(json_object_get(e, "subject")), "CN=device-0001");
    assert_string_equal(json_string_value(json_object_get(e, "not_after")), "2036-12-31T23:59:59Z");
    assert_non_null(strstr(json_string_value(json_object_get(e, "pem")), "BEGIN CERTIFICATE"));
    e = find_entry(certs, "file_id", "03");
    assert_string_equal(json_string_value(json_object_get(e, "subject")), "CN=server.example");
    /* The whole chain is delivered: two certificates. */
    const char *chain = json_string_value(json_object_get(e, "pem"));
    assert_non_null(strstr(strstr(chain, "BEGIN CERTIFICATE") + 1, "BEGIN CERTIFICATE"));

    json_t *psks = json_object_get(root, "psk_identities");
    assert_int_equal(json_array_size(psks), 1);
    e = json_array_get(psks, 0);
    assert_string_equal(json_string_value(json_object_get(e, "secret_id")), "10");
    assert_string_equal(json_string_value(json_object_get(e, "label")), "psk1");
    assert_string_equal(json_string_value(json_object_get(e, "identity")), "device-0001");
    assert_string_equal(json_string_value(json_object_get(e, "identity_file_id")), "11");
    assert_int_equal(json_object_size(e), 4);
    json_decref(root);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_types_and_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
