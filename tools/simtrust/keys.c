/*
 * Public keys between the card and OpenSSL: the card speaks an uncompressed
 * EC point (34 { 49 { 86 04||X||Y } }) or, as this card's extension, an RSA
 * modulus and exponent; tools and CAs speak SubjectPublicKeyInfo. The curve
 * is not in the card's TLV, so it comes from the object's key type (4B).
 * OpenSSL 3 EVP and OSSL_PARAM only (the project builds without the
 * deprecated low-level key APIs).
 */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "st_hex.h"

/* The OpenSSL group of an EC key type, or by point size when the type is unknown. */
static const char *ec_group(uint8_t key_type, size_t point_len)
{
    if (key_type == 0x23 || key_type == 0x24)
        return "brainpoolP256r1";
    if (key_type == 0x13 || key_type == 0x14)
        return "prime256v1";
    switch (point_len) {
    case 97:
        return "secp384r1";
    case 133:
        return "secp521r1";
    default:
        return "prime256v1";
    }
}

static EVP_PKEY *from_params(const char *alg, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

EVP_PKEY *st_cli_pkey_from_card(const struct st_iotsafe_pubkey *pk, uint8_t key_type,
                                const char **why)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *n = NULL, *e = NULL;
    *why = "OpenSSL refused the key";
    if (bld == NULL)
        return NULL;
    if (pk->type == ST_IOTSAFE_PUBKEY_EC) {
        const char *group = ec_group(key_type, pk->point_len);
        if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pk->point,
                                             pk->point_len))
            pkey = from_params("EC", bld);
        if (pkey == NULL)
            *why = "the card's point is not on the key's curve";
    } else if (pk->type == ST_IOTSAFE_PUBKEY_RSA) {
        n = BN_bin2bn(pk->n, pk->n_len, NULL);
        e = BN_bin2bn(pk->e, pk->e_len, NULL);
        if (n != NULL && e != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            pkey = from_params("RSA", bld);
    } else {
        *why = "unknown public key type";
    }
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_BLD_free(bld);
    ERR_clear_error();
    return pkey;
}

int st_cli_pkey_to_card(EVP_PKEY *pkey, struct st_iotsafe_pubkey *pk, const char **why)
{
    memset(pk, 0, sizeof(*pk));
    if (EVP_PKEY_is_a(pkey, "EC")) {
        uint8_t point[ST_IOTSAFE_POINT_MAX];
        size_t len = 0;
        /* The card takes uncompressed points only (a compressed SPKI is legal). */
        if (!EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                            "uncompressed") ||
            !EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                             &len) ||
            st_iotsafe_pubkey_ec(pk, point, len) != ST_OK) {
            *why = "cannot encode the EC point";
            ERR_clear_error();
            return -1;
        }
        return 0;
    }
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        BIGNUM *n = NULL, *e = NULL;
        int rc = -1;
        *why = "the RSA key is larger than 2048 bits or its exponent too long";
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) &&
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) &&
            (size_t)BN_num_bytes(n) <= sizeof(pk->n) && (size_t)BN_num_bytes(e) <= sizeof(pk->e)) {
            pk->type = ST_IOTSAFE_PUBKEY_RSA;
            pk->n_len = (uint16_t)BN_bn2bin(n, pk->n);
            pk->e_len = (uint8_t)BN_bn2bin(e, pk->e);
            rc = 0;
        }
        BN_free(n);
        BN_free(e);
        ERR_clear_error();
        return rc;
    }
    *why = "only EC and RSA keys go into an IoT SAFE public key object";
    return -1;
}

EVP_PKEY *st_cli_pkey_load(const uint8_t *buf, size_t len)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    BIO *b;
    const unsigned char *p;
    if (len > (size_t)INT32_MAX)
        return NULL;
    /* PEM public key, PEM certificate, DER public key, DER certificate. */
    b = BIO_new_mem_buf(buf, (int)len);
    if (b != NULL)
        pkey = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    if (pkey == NULL) {
        b = BIO_new_mem_buf(buf, (int)len);
        if (b != NULL)
            x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
    }
    if (pkey == NULL && x == NULL) {
        p = buf;
        pkey = d2i_PUBKEY(NULL, &p, (long)len);
    }
    if (pkey == NULL && x == NULL) {
        p = buf;
        x = d2i_X509(NULL, &p, (long)len);
    }
    if (pkey == NULL && x != NULL)
        pkey = X509_get_pubkey(x);
    X509_free(x);
    ERR_clear_error();
    return pkey;
}

char *st_cli_pkey_pem(EVP_PKEY *pkey)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *data;
    if (b != NULL && PEM_write_bio_PUBKEY(b, pkey)) {
        long n = BIO_get_mem_data(b, &data);
        out = n > 0 ? malloc((size_t)n + 1) : NULL;
        if (out != NULL) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return out;
}

uint8_t st_cli_object_key_type(struct st_cli *cli, enum st_iotsafe_kind kind,
                               const struct st_iotsafe_ref *ref)
{
    struct st_iotsafe_object obj;
    if (st_iotsafe_find_object(&cli->ios, kind, ref, &obj) == ST_OK &&
        (obj.present & ST_IOTSAFE_OBJ_KEY_TYPE))
        return obj.key_type;
    return 0;
}

static const char *pubkey_type_name(const struct st_iotsafe_pubkey *pk, uint8_t key_type)
{
    const char *t = st_cli_key_type_name(key_type);
    if (t != NULL)
        return t;
    return pk->type == ST_IOTSAFE_PUBKEY_RSA ? "RSA" : "EC";
}

int st_cli_show_pubkey(struct st_cli *cli, const struct st_iotsafe_pubkey *pk, uint8_t key_type,
                       bool pem, const char *out_path, json_t *obj)
{
    const char *why;
    EVP_PKEY *pkey = st_cli_pkey_from_card(pk, key_type, &why);
    if (pkey == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "the card's public key: %s", why);
    char *text = st_cli_pkey_pem(pkey);
    EVP_PKEY_free(pkey);
    if (text == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot write the public key as PEM");
    int rc = 0;
    if (out_path != NULL)
        rc = st_cli_write_file(cli, out_path, text, strlen(text));
    if (rc == 0 && cli->g.json) {
        json_object_set_new(obj, "type", json_string(pubkey_type_name(pk, key_type)));
        if (pk->type == ST_IOTSAFE_PUBKEY_EC) {
            st_cli_json_hex(obj, "point", pk->point, pk->point_len);
        } else {
            st_cli_json_hex(obj, "modulus", pk->n, pk->n_len);
            st_cli_json_hex(obj, "exponent", pk->e, pk->e_len);
        }
        json_object_set_new(obj, "pem", json_string(text));
    } else if (rc == 0 && pem && out_path == NULL) {
        fputs(text, stdout);
    } else if (rc == 0 && !pem) {
        printf("type:       %s\n", pubkey_type_name(pk, key_type));
        if (pk->type == ST_IOTSAFE_PUBKEY_EC) {
            printf("point:      ");
            st_cli_print_hex(stdout, pk->point, pk->point_len);
        } else {
            printf("modulus:    ");
            st_cli_print_hex(stdout, pk->n, pk->n_len);
            printf("exponent:   ");
            st_cli_print_hex(stdout, pk->e, pk->e_len);
        }
        if (out_path == NULL)
            fputs(text, stdout);
        else
            printf("written to: %s\n", out_path);
    }
    free(text);
    return rc;
}
