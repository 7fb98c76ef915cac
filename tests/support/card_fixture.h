/*
 * A RAM-only test card with the IoT SAFE applet selected, and helpers to
 * drive it with hex APDUs (cmocka tests). Link st_card_fixture.
 *
 * Objects of cfx_state() (one-byte IDs; labels in quotes):
 *   private keys
 *     01 "client"   P-256 (13)        sign|keygen|key agreement, ECDSA, SHA-256/384/512
 *     02 "bp"       brainpoolP256r1   sign|key agreement, ECDSA
 *     03 "rsa"      RSA-2048 (03)     sign|keygen, PKCS#1 v1.5 | PSS, SHA-256/384/512
 *     04 "ecdhe"    P-256 volatile    keygen|key agreement, empty (wolfSSL slot 04)
 *     06 "nosign"   P-256             key agreement only (no sign, no keygen)
 *     07 "obkg"     P-256             sign|keygen, ECDSA, empty, persistent (no public 07)
 *     08 "bpeph"    brainpool volatile keygen|key agreement, empty
 *   public keys (access read unless noted; functions sign)
 *     01, 02, 03    the halves of private keys 01, 02, 03
 *     04 "ecdhe"    P-256 volatile, empty (receives 04's half on GENERATE)
 *     05 "peer"     P-256, empty, read|update, sign|key agreement (wolfSSL slot 05)
 *     06 "bppeer"   brainpoolP256r1, empty, read|update
 *     09 "rsapeer"  RSA-2048, empty, read|update, sign (PKCS#1 | PSS)
 *     0A "locked"   P-256, filled (= public 01), access 00: neither read nor update
 *   secret keys (4B A0)
 *     10 "psk1"     32 bytes 00 01 .. 1F, key derivation, 94 PRF|HKDF
 *     11 "psk2"     64 bytes 40 41 .. 7F (512 bits, IoT.04 J2), key derivation
 *     12 "nokd"     16 bytes, no key-derivation function
 *     13 "empty"    empty container, key derivation
 * Signature form: ST_SIG_FORM_2BYTE (33 00 40). Tests that need a variant copy
 * cfx_state() into a malloc'd state, change it and pass it to cfx_card().
 */
#ifndef SIMTRUST_TESTS_CARD_FIXTURE_H
#define SIMTRUST_TESTS_CARD_FIXTURE_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "card.h"

/* SELECT of the IoT SAFE AID on channel 1 (opens the channel implicitly). */
#define CFX_SELECT "01A4040007A0000005590010"

struct cfx_rsp {
    uint8_t data[4096];
    size_t len;
    uint16_t sw;
};

/* The state described above; built once per process (RSA keygen is slow). */
const struct st_card_state *cfx_state(void);

/* A RAM-only card from s (NULL: cfx_state()), with CFX_SELECT done. */
st_card *cfx_card(const struct st_card_state *s);

/*
 * Sends an APDU given as printf-style hex (spaces allowed); in the form
 * "81480100|<data>|00" Lc is computed from the data (the part after "|", up
 * to an optional second "|" before Le). A 61xx answer is
 * followed with GET RESPONSE on the same channel and the data concatenated,
 * as clients do. cfx_send_raw() does not follow 61xx.
 */
struct cfx_rsp cfx_send(st_card *card, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct cfx_rsp cfx_send_raw(st_card *card, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fails the test (cmocka) unless the APDU answers sw; returns the response. */
struct cfx_rsp cfx_expect(st_card *card, uint16_t sw, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An object of the card's live state by hex ID (fails the test if absent). */
const struct st_object *cfx_obj(st_card *card, enum st_obj_kind kind, const char *id_hex);

/*
 * Upper-case hex of n bytes in a rotating static buffer: the result stays
 * valid for the next 7 calls only (copy it when reusing it longer).
 */
const char *cfx_hex(const uint8_t *p, size_t n);

/* Decodes hex into out (fails the test on bad hex); returns the length. */
size_t cfx_unhex(const char *hex, uint8_t *out, size_t cap);

/*
 * Independent OpenSSL views for checking the card's results: a public key
 * from a 65-byte EC point of a key type, or from an RSA SPKI DER.
 */
EVP_PKEY *cfx_public_pkey(uint8_t key_type, const uint8_t *v, size_t n);

/* Verifies raw r || s (64 bytes) over dig with OpenSSL; true if valid. */
bool cfx_ecdsa_ok(EVP_PKEY *pub, const uint8_t *dig, size_t dlen, const uint8_t *rs);

/* Verifies an RSA signature (pss: salt = digest length) over dig. */
bool cfx_rsa_ok(EVP_PKEY *pub, bool pss, const uint8_t *dig, size_t dlen, const uint8_t *sig,
                size_t sig_len);

/* Raw r || s of an OpenSSL ECDSA signature over dig with priv. */
void cfx_ecdsa_sign(EVP_PKEY *priv, const uint8_t *dig, size_t dlen, uint8_t rs[64]);

/* The 65-byte uncompressed point of an EC key. */
void cfx_ec_point(EVP_PKEY *key, uint8_t pt[65]);

#endif
