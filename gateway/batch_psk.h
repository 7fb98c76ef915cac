/*
 * Scenario 5 (IoT.04 section 2.5, "PSK#3"): batch-derived PSKs.
 *
 * A device presents the PSK identity "Vendor" || "batch" || ICCID; the gateway
 * parses it, finds the group that holds the batch master key (BMK) of
 * (vendor, batch) and computes eUK = KDF(BMK, identity) during the handshake,
 * with no per-device key row (M1, M2; section 3.3.2.2.3 "Get PSK Data").
 *
 * Wire format of the identity (docs/gateway-batch-psk.md):
 *
 *   identity = vendor ":" batch ":" iccid          (ASCII, no NUL, <= 86 bytes)
 *   vendor   = 1*32 ( ALPHA / DIGIT / "." / "_" / "-" )
 *   batch    = 1*32 ( ALPHA / DIGIT / "." / "_" / "-" )
 *   iccid    = "89" 16*18 DIGIT                     (18..20 digits, Luhn-valid)
 *
 * ":" cannot occur inside a field, so the split is unique and every accepted
 * identity has exactly one byte form: the KDF input is the identity bytes as
 * received, which the parser has proven canonical.
 */
#ifndef SIMTRUST_GW_BATCH_PSK_H
#define SIMTRUST_GW_BATCH_PSK_H

#include <stddef.h>
#include <stdint.h>

#define ST_GW_BATCH_FIELD_MAX 32
#define ST_GW_ICCID_MIN 18
#define ST_GW_ICCID_MAX 20
#define ST_GW_BATCH_IDENTITY_MAX (ST_GW_BATCH_FIELD_MAX * 2 + 2 + ST_GW_ICCID_MAX)

/* Result codes of the parser (the reason is logged; never sent to the peer). */
enum st_gw_batch_err {
    ST_GW_BATCH_OK = 0,
    ST_GW_BATCH_ETOOLONG = -1,   /* identity longer than ST_GW_BATCH_IDENTITY_MAX */
    ST_GW_BATCH_ESYNTAX = -2,    /* wrong number of ':' separators or empty field */
    ST_GW_BATCH_ECHAR = -3,      /* byte outside the vendor/batch alphabet */
    ST_GW_BATCH_EFIELDLEN = -4,  /* vendor or batch longer than 32 bytes */
    ST_GW_BATCH_EICCID = -5,     /* ICCID not 18..20 digits or not starting with 89 */
    ST_GW_BATCH_ELUHN = -6,      /* ICCID check digit wrong */
};

struct st_gw_batch_id {
    char vendor[ST_GW_BATCH_FIELD_MAX + 1];
    char batch[ST_GW_BATCH_FIELD_MAX + 1];
    char iccid[ST_GW_ICCID_MAX + 1];
};

/* Parses a PSK identity of exactly len bytes (not NUL-terminated). On error
 * *out is zeroed. Returns ST_GW_BATCH_OK or a negative st_gw_batch_err. */
int st_gw_batch_parse(const uint8_t *identity, size_t len, struct st_gw_batch_id *out);

/* Writes the canonical identity of (vendor, batch, iccid) into buf (NUL-terminated);
 * validates like the parser. Returns the length or a negative st_gw_batch_err
 * (ST_GW_BATCH_ETOOLONG also when cap is too small). */
int st_gw_batch_format(const char *vendor, const char *batch, const char *iccid, char *buf,
                       size_t cap);

/* Short English reason for a parser result, for logs. */
const char *st_gw_batch_strerror(int err);

/* 1 when s is a valid vendor or batch field (1..32 of [A-Za-z0-9._-]). */
int st_gw_batch_field_ok(const char *s);

/* ICCID checks: 18..20 decimal digits; Luhn (ITU-T E.118) over all digits. */
int st_gw_iccid_digits_ok(const char *iccid, size_t len);
int st_gw_luhn_ok(const char *digits, size_t len);

/* KDFs selectable per group. Values are stored in the registry: do not renumber. */
enum st_gw_kdf {
    ST_GW_KDF_HMAC_SHA256 = 1, /* eUK = HMAC-SHA-256(key = BMK, msg = identity) */
    ST_GW_KDF_HKDF_SHA256 = 2, /* eUK = HKDF-SHA-256(IKM = BMK, salt = "", info = identity, L) */
};

/* "hmac-sha256" / "hkdf-sha256"; NULL or 0 for unknown values. */
const char *st_gw_kdf_name(int kdf);
int st_gw_kdf_parse(const char *name);

/*
 * eUK = KDF(BMK, identity) into out[out_len].
 *   HMAC-SHA-256: out_len 1..32 (the MAC truncated; 32 recommended; this is the
 *     Azure DPS group-key derivation when identity is the registration id).
 *   HKDF-SHA-256: out_len 1..255*32 (RFC 5869).
 * The identity is used as given (parse it first on the handshake path).
 * bmk_len 16..64. Returns 0 or -1 (bad arguments or OpenSSL failure; out wiped).
 */
int st_gw_batch_derive(int kdf, const uint8_t *bmk, size_t bmk_len, const uint8_t *identity,
                       size_t identity_len, uint8_t *out, size_t out_len);

/*
 * Checks, in constant time, a key a device presents as a password (scenario 5
 * "possible option": SCRAM/CHAP with the PSK identity as user and eUK as
 * password): derives eUK and compares all key_len bytes with CRYPTO_memcmp.
 * Returns 1 when equal, 0 when not (or on any error); the time does not depend
 * on where the keys differ.
 */
int st_gw_batch_check_euk(int kdf, const uint8_t *bmk, size_t bmk_len, const uint8_t *identity,
                          size_t identity_len, const uint8_t *key, size_t key_len);

/*
 * Decoy key for an unknown or refused PSK identity: HMAC-SHA-256(secret, identity)
 * truncated to out_len (<= 32). A handshake continued with it fails at Finished
 * exactly like a wrong key, with the same work as a real batch derivation, so
 * timing and alerts do not tell an attacker whether the identity exists.
 */
int st_gw_psk_decoy(const uint8_t secret[32], const uint8_t *identity, size_t identity_len,
                    uint8_t *out, size_t out_len);

#endif
