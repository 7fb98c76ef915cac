/*
 * The delivery record of a personalised card (IoT.04 G1, K1): what the
 * factory hands to the IoT security service. Public data only: ICCID, EID,
 * public keys, certificates and PSK identities. Private keys and PSK values
 * are never read here beyond their presence.
 */
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "card_crypto.h"
#include "profile.h"
#include "profile_internal.h"
#include "st_hex.h"

/* Sets key to the bytes as a string if they are UTF-8 text, else key_hex to their hex. */
static int set_text(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
    json_t *v = memchr(p, 0, n) == NULL ? json_stringn((const char *)p, n) : NULL;
    if (v != NULL)
        return json_object_set_new(obj, key, v);
    char *hex = malloc(2 * n + 1);
    char hkey[32];
    if (hex == NULL)
        return -1;
    st_hex_encode(p, n, hex);
    snprintf(hkey, sizeof(hkey), "%s_hex", key);
    int rc = json_object_set_new(obj, hkey, json_string(hex));
    free(hex);
    return rc;
}

static int set_hex(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
    char hex[2 * 32 + 1];
    if (n > 32)
        return -1;
    st_hex_encode(p, n, hex);
    return json_object_set_new(obj, key, json_string(hex));
}

/* EF_ICCID back to digits: nibble-swapped BCD, F = padding. */
static void iccid_digits(const struct st_card_state *s, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->iccid_len && i < sizeof(s->iccid); i++) {
        uint8_t d[2] = {(uint8_t)(s->iccid[i] & 0x0F), (uint8_t)(s->iccid[i] >> 4)};
        for (int k = 0; k < 2; k++)
            if (d[k] <= 9)
                out[n++] = (char)('0' + d[k]);
    }
    out[n] = '\0';
}

static json_t *ref_entry(const struct st_object *o, const char *id_key)
{
    json_t *e = json_object();
    if (e == NULL || set_hex(e, id_key, o->id, o->id_len) != 0 ||
        (o->label_len > 0 && set_text(e, "label", o->label, o->label_len) != 0)) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static int public_keys(const struct st_card_state *s, json_t *arr)
{
    char pem[2048];
    for (size_t i = 0; i < ST_MAX_PUBLIC_KEYS; i++) {
        const struct st_object *o = &s->pub[i];
        if (!o->in_use || o->value_len == 0)
            continue; /* empty containers (volatile peer keys) have nothing to deliver */
        json_t *e = ref_entry(o, "id");
        if (e == NULL)
            return -1;
        const char *type = st_profile_type_name(o->key_type);
        json_object_set_new(e, "type", type != NULL ? json_string(type) : json_null());
        if (st_crypto_public_pem(o, pem, sizeof(pem)) == 0)
            json_object_set_new(e, "pem", json_string(pem));
        else
            json_object_set_new(e, "error", json_string("not a valid public key"));
        if (json_array_append_new(arr, e) != 0)
            return -1;
    }
    return 0;
}

/* Adds pem (every certificate), subject and not_after (of the first) to e. */
static void describe_certs(const struct st_object *o, json_t *e)
{
    const unsigned char *p = o->value, *end = o->value + o->value_len;
    BIO *pem = BIO_new(BIO_s_mem());
    int count = 0;
    while (pem != NULL && p < end && *p == 0x30) { /* zero padding ends the chain */
        const unsigned char *q = p;
        X509 *x = d2i_X509(NULL, &q, (long)(end - p));
        if (x == NULL)
            break;
        p = q;
        PEM_write_bio_X509(pem, x);
        if (count++ == 0) {
            BIO *b = BIO_new(BIO_s_mem());
            char *mem;
            if (b != NULL &&
                X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
                long n = BIO_get_mem_data(b, &mem);
                json_object_set_new(e, "subject", json_stringn(mem, (size_t)(n > 0 ? n : 0)));
            }
            BIO_free(b);
            struct tm tm;
            char when[32];
            if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1 &&
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
                json_object_set_new(e, "not_after", json_string(when));
        }
        X509_free(x);
    }
    ERR_clear_error();
    char *mem;
    long n = pem != NULL ? BIO_get_mem_data(pem, &mem) : 0;
    if (count > 0 && n > 0)
        json_object_set_new(e, "pem", json_stringn(mem, (size_t)n));
    else
        json_object_set_new(e, "error", json_string("not a DER X.509 certificate"));
    BIO_free(pem);
}

static int certificates(const struct st_card_state *s, json_t *arr)
{
    for (size_t i = 0; i < ST_MAX_FILES; i++) {
        const struct st_object *o = &s->file[i];
        if (!o->in_use || o->usage != ST_FILE_CERTIFICATE || o->value_len == 0)
            continue;
        json_t *e = ref_entry(o, "file_id");
        if (e == NULL)
            return -1;
        describe_certs(o, e);
        if (json_array_append_new(arr, e) != 0)
            return -1;
    }
    return 0;
}

/* The identity file of a secret: usage general, same label (docs/profile.md). */
static const struct st_object *identity_of(const struct st_card_state *s,
                                           const struct st_object *secret)
{
    if (secret->label_len == 0)
        return NULL;
    for (size_t i = 0; i < ST_MAX_FILES; i++) {
        const struct st_object *f = &s->file[i];
        if (f->in_use && f->usage == ST_FILE_GENERAL && f->label_len == secret->label_len &&
            memcmp(f->label, secret->label, f->label_len) == 0)
            return f;
    }
    return NULL;
}

static int psk_identities(const struct st_card_state *s, json_t *arr)
{
    for (size_t i = 0; i < ST_MAX_SECRET_KEYS; i++) {
        const struct st_object *o = &s->secret[i];
        if (!o->in_use)
            continue;
        json_t *e = ref_entry(o, "secret_id"); /* the reference only: never the value */
        if (e == NULL)
            return -1;
        const struct st_object *f = identity_of(s, o);
        if (f != NULL) {
            set_text(e, "identity", f->value, f->value_len);
            set_hex(e, "identity_file_id", f->id, f->id_len);
        }
        if (json_array_append_new(arr, e) != 0)
            return -1;
    }
    return 0;
}

int st_profile_delivery(const struct st_card_state *s, FILE *out)
{
    char iccid[21];
    json_t *root = json_object();
    json_t *pubs = json_array(), *certs = json_array(), *psks = json_array();
    int rc = -1;
    if (root == NULL || pubs == NULL || certs == NULL || psks == NULL)
        goto out;
    iccid_digits(s, iccid);
    json_object_set_new(root, "iccid", json_string(iccid));
    if (s->eid_len > 0 && s->eid_len <= sizeof(s->eid)) {
        char eid[2 * sizeof(s->eid) + 1];
        st_hex_encode(s->eid, s->eid_len, eid);
        json_object_set_new(root, "eid", json_string(eid));
    }
    if (public_keys(s, pubs) != 0 || certificates(s, certs) != 0 || psk_identities(s, psks) != 0)
        goto out;
    json_object_set(root, "public_keys", pubs);
    json_object_set(root, "certificates", certs);
    json_object_set(root, "psk_identities", psks);
    if (json_dumpf(root, out, JSON_INDENT(2)) == 0 && fputc('\n', out) != EOF && fflush(out) == 0 &&
        !ferror(out))
        rc = 0;
out:
    json_decref(pubs);
    json_decref(certs);
    json_decref(psks);
    json_decref(root);
    return rc;
}
