/*
 * The IoT SAFE object model of simtrust-card (IoT.04 D3, D9, E3, E5, I8, J2).
 *
 * Four object kinds, each its own namespace of IDs (1..20 bytes) and labels
 * (0..60 bytes): private keys, public keys, files and secret keys. Attribute
 * values are the ones of the applet's TLVs (tags 60, 4A, 4B, 4E, 61, 91, 92,
 * 6F, 94, 21) so GET DATA can emit them as they are.
 *
 * Everything lives in fixed arrays inside struct st_card_state so that the
 * whole persistent state can be copied, compared and serialised in one go:
 * that is what makes every card update atomic (see image.h).
 */
#ifndef SIMTRUST_CARD_OBJECTS_H
#define SIMTRUST_CARD_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_ID_MAX 20
#define ST_LABEL_MAX 60
#define ST_MAX_PRIVATE_KEYS 8
#define ST_MAX_PUBLIC_KEYS 8
#define ST_MAX_FILES 16
#define ST_MAX_SECRET_KEYS 8
#define ST_FILE_MAX 4096   /* largest file (a certificate chain) */
#define ST_SECRET_MAX 64   /* J2: PSKs up to 512 bits */
#define ST_PRIV_MAX 1280   /* RSA-2048 private key, DER (EC: 32-byte scalar) */
#define ST_PUB_MAX 300     /* RSA-2048 SubjectPublicKeyInfo DER (EC: 65-byte point) */
#define ST_MAX_AIDS 4
#define ST_AID_MAX 16

enum st_obj_kind {
    ST_OBJ_PRIVATE_KEY = 0,
    ST_OBJ_PUBLIC_KEY = 1,
    ST_OBJ_FILE = 2,
    ST_OBJ_SECRET_KEY = 3,
    ST_OBJ_KINDS = 4,
};

/* Tag 60: access conditions. */
#define ST_ACCESS_READ 0x01
#define ST_ACCESS_UPDATE 0x02

/* Tag 4A: object state. */
#define ST_STATE_EMPTY 0x00
#define ST_STATE_ACTIVATED 0x01

/* Tag 4B: key type. Volatile types keep their value in RAM only. */
#define ST_KEY_RSA2048 0x03
#define ST_KEY_P256 0x13
#define ST_KEY_P256_VOLATILE 0x14
#define ST_KEY_BP256 0x23
#define ST_KEY_BP256_VOLATILE 0x24
#define ST_KEY_HMAC 0xA0 /* secret keys (PSKs) */

/* Tag 4E: key usage. */
#define ST_USAGE_GENERAL 0x01
#define ST_USAGE_TLS12 0x02
#define ST_USAGE_TLS13 0x03

/* Tag 61 (object) / 90 (application): crypto functions. */
#define ST_FN_SIGN 0x01
#define ST_FN_KEYGEN 0x02
#define ST_FN_KEY_AGREEMENT 0x04
#define ST_FN_KEY_DERIVATION 0x08

/* Tag 92: signature algorithms. */
#define ST_SIG_RSA_PKCS1 0x01
#define ST_SIG_RSA_PSS 0x02
#define ST_SIG_ECDSA 0x04

/* Tag 91 (2 bytes): hash algorithms. */
#define ST_HASH_SHA256 0x0001
#define ST_HASH_SHA384 0x0002
#define ST_HASH_SHA512 0x0004

/* Tag 6F / 93: key agreement. */
#define ST_KA_ECKA 0x01

/* Tag 94: key derivation. */
#define ST_KD_PRF_SHA256 0x01
#define ST_KD_HKDF 0x02

/* Tag 21: file usage. */
#define ST_FILE_GENERAL 0x01
#define ST_FILE_CERTIFICATE 0x02

struct st_object {
    bool in_use;            /* slot allocated (the container exists) */
    uint8_t id_len;
    uint8_t id[ST_ID_MAX];
    uint8_t label_len;
    uint8_t label[ST_LABEL_MAX];
    uint8_t access;         /* 60 */
    uint8_t state;          /* 4A: derived from value_len, kept for GET DATA */
    uint8_t key_type;       /* 4B, keys only */
    uint8_t usage;          /* 4E for keys, 21 for files */
    uint8_t functions;      /* 61 */
    uint8_t sig_algos;      /* 92 */
    uint16_t hash_algos;    /* 91 */
    uint8_t key_agreement;  /* 6F */
    uint8_t key_derivation; /* 94, secret keys */
    uint16_t value_len;     /* 0 = empty container */
    /*
     * The value: EC private scalar (32) or RSA PKCS#8 DER; EC public point
     * 04||X||Y (65) or RSA SubjectPublicKeyInfo DER; file bytes; secret bytes.
     * For volatile key types the value is never written to the image.
     */
    uint8_t value[ST_FILE_MAX];
};

/* Signature TLV 33 length form on output (both are accepted on input). */
enum st_sig_form {
    ST_SIG_FORM_2BYTE = 0, /* 33 00 40 (Kigen, Thales, wolfSSL default) */
    ST_SIG_FORM_1BYTE = 1, /* 33 40    (NTT, Orange library) */
};

/* Everything that survives a power cycle. Plain data: copy with memcpy. */
struct st_card_state {
    uint8_t iccid_len;
    uint8_t iccid[10];     /* BCD, as EF_ICCID stores it */
    uint8_t eid_len;
    uint8_t eid[16];
    uint8_t atr_len;
    uint8_t atr[33];
    uint8_t aid_count;
    uint8_t aid_len[ST_MAX_AIDS];
    uint8_t aid[ST_MAX_AIDS][ST_AID_MAX];
    uint8_t sig_form;      /* enum st_sig_form */
    uint32_t generation;   /* bumped by every committed update */
    struct st_object priv[ST_MAX_PRIVATE_KEYS];
    struct st_object pub[ST_MAX_PUBLIC_KEYS];
    struct st_object file[ST_MAX_FILES];
    struct st_object secret[ST_MAX_SECRET_KEYS];
};

/* Capacity of one kind's table and the table itself. */
size_t st_objects_capacity(enum st_obj_kind kind);
struct st_object *st_objects_table(struct st_card_state *s, enum st_obj_kind kind);

/*
 * Finds an object by ID (label == false) or label (label == true).
 * Returns NULL if absent. Comparison is exact on length and bytes.
 */
struct st_object *st_objects_find(struct st_card_state *s, enum st_obj_kind kind, bool by_label,
                                  const uint8_t *ref, size_t ref_len);

/* First free slot of a kind, or NULL when the table is full. */
struct st_object *st_objects_alloc(struct st_card_state *s, enum st_obj_kind kind);

/* True for key types whose value lives in RAM only (4B = 14, 24). */
bool st_key_type_is_volatile(uint8_t key_type);

/* Fills a state with the defaults of an empty card (default AID, ATR). */
void st_card_state_init(struct st_card_state *s);

/* Wipes the values of volatile keys (power off, reset). */
void st_card_state_drop_volatile(struct st_card_state *s);

#endif
