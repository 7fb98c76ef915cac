/*
 * The card's cryptography on OpenSSL 3: key values of struct st_object to and
 * from EVP_PKEY, key generation, import for personalisation.
 *
 * Value formats (struct st_object.value):
 *   EC private key (4B 13/14/23/24): the 32-byte big-endian scalar
 *   EC public key: the 65-byte uncompressed point 04 || X || Y
 *   RSA-2048 private key (4B 03): PKCS#8 PrivateKeyInfo DER
 *   RSA-2048 public key: SubjectPublicKeyInfo DER
 * Every function returns 0 on success and -1 on failure; outputs are written
 * only on success. Secret intermediates are wiped before returning.
 */
#ifndef SIMTRUST_CARD_CRYPTO_H
#define SIMTRUST_CARD_CRYPTO_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "objects.h"

/* True for the key types 13, 14, 23, 24 (EC) and 03 (RSA-2048). */
bool st_crypto_key_type_supported(uint8_t key_type);

/* Curve name ("prime256v1", "brainpoolP256r1") of an EC key type, else NULL. */
const char *st_crypto_curve_name(uint8_t key_type);

/*
 * Generates a key pair of key_type. priv must hold ST_PRIV_MAX bytes and pub
 * ST_PUB_MAX bytes.
 */
int st_crypto_keygen(uint8_t key_type, uint8_t *priv, uint16_t *priv_len, uint8_t *pub,
                     uint16_t *pub_len);

/*
 * Imports a private key (PEM or DER, any OpenSSL-readable form) that must be
 * of key_type; also returns its public half. Same buffer sizes as keygen.
 */
int st_crypto_import_private(uint8_t key_type, const uint8_t *data, size_t len, uint8_t *priv,
                             uint16_t *priv_len, uint8_t *pub, uint16_t *pub_len);

/* Imports a public key (PEM/DER SubjectPublicKeyInfo, or an X.509 certificate). */
int st_crypto_import_public(uint8_t key_type, const uint8_t *data, size_t len, uint8_t *pub,
                            uint16_t *pub_len);

/* EVP_PKEY of an object's value (caller frees), or NULL if empty or invalid. */
EVP_PKEY *st_crypto_private_pkey(const struct st_object *o);
EVP_PKEY *st_crypto_public_pkey(const struct st_object *o);

/* The public key as PEM text (SubjectPublicKeyInfo), NUL-terminated. */
int st_crypto_public_pem(const struct st_object *o, char *out, size_t cap);

/* Fills buf with n random bytes from OpenSSL's DRBG. */
int st_crypto_random(uint8_t *buf, size_t n);

/*
 * Additions for the IoT SAFE crypto commands (card/iotsafe_*.c).
 */

/* EVP_MD of a tag 91 value (0001, 0002, 0004), else NULL. */
const EVP_MD *st_crypto_md(uint16_t hash);

/* The tag 91 value of a digest length (32, 48, 64), else 0. */
uint16_t st_crypto_hash_of_len(size_t dlen);

/* True if sig_alg (tag 92 value) is usable with key_type (ECDSA on EC, RSA on 03). */
bool st_crypto_alg_fits(uint8_t key_type, uint8_t sig_alg);

/* Signature length of a key type: 64 (raw r||s) for EC, 256 for RSA-2048. */
size_t st_crypto_sig_len(uint8_t key_type);

/*
 * Signs a digest with a private key object (IoT.04 E1, E2, F2). EC: raw
 * r || s, each zero-padded to 32 bytes; any digest length, truncated as
 * ECDSA does. RSA: PKCS#1 v1.5 (DigestInfo) or PSS (salt = digest length),
 * the hash chosen by dlen (32/48/64). sig must hold 256 bytes.
 */
int st_crypto_sign_digest(const struct st_object *key, uint8_t sig_alg, const uint8_t *dig,
                          size_t dlen, uint8_t *sig, size_t *sig_len);

/*
 * Verifies a signature (format as st_crypto_sign_digest produces) with a
 * public key object. Returns 1 valid, 0 mismatch, -1 unusable input (wrong
 * signature length, bad key, unknown digest length for RSA).
 */
int st_crypto_verify_digest(const struct st_object *key, uint8_t sig_alg, const uint8_t *dig,
                            size_t dlen, const uint8_t *sig, size_t sig_len);

/*
 * Finishes SHA-256 from an intermediate state (IoT SAFE mode 2 "last
 * block"): state = H0..H7 big-endian after `done` bytes (a multiple of 64),
 * tail = the remaining message bytes.
 */
int st_crypto_sha256_resume(const uint8_t state[32], uint64_t done, const uint8_t *tail,
                            size_t tail_len, uint8_t out[32]);

/* ECDH (IoT.04 F4): the x-coordinate of priv * pub; out holds 32 bytes. */
int st_crypto_ecdh(const struct st_object *priv, const struct st_object *pub, uint8_t *out,
                   size_t *out_len);

/* 0 if pt is an uncompressed point on the curve of the EC key type. */
int st_crypto_ec_point_check(uint8_t key_type, const uint8_t *pt, size_t len);

/* RSA-2048 public key value (SPKI DER) to and from modulus / exponent bytes. */
int st_crypto_rsa_public_parts(const uint8_t *spki, size_t spki_len, uint8_t n[256],
                               size_t *n_len, uint8_t e[8], size_t *e_len);
int st_crypto_rsa_public_from_parts(const uint8_t *n, size_t n_len, const uint8_t *e,
                                    size_t e_len, uint8_t *pub, uint16_t *pub_len);

/* TLS 1.2 PRF with SHA-256 (RFC 5246 §5, IoT.04 J4); seed = label || seed. */
int st_crypto_tls12_prf(const uint8_t *secret, size_t secret_len, const uint8_t *seed,
                        size_t seed_len, uint8_t *out, size_t out_len);

/* HKDF (RFC 5869, IoT.04 J5). Extract writes EVP_MD_get_size(md) bytes. */
int st_crypto_hkdf_extract(const EVP_MD *md, const uint8_t *ikm, size_t ikm_len,
                           const uint8_t *salt, size_t salt_len, uint8_t *prk);
int st_crypto_hkdf_expand(const EVP_MD *md, const uint8_t *prk, size_t prk_len,
                          const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

#endif
