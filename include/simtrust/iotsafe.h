/*
 * The IoT SAFE client of libsimtrust: every command of the GSMA IoT SAFE
 * applet (IoT.05, as real applets and clients implement it; see
 * docs/libsimtrust.md) over the APDU layer of simtrust/apdu.h.
 *
 * IoT.04 requirements served: B5/B6 (commands to the applet over its APDU
 * protocol), D3/I4 (capability discovery: st_iotsafe_get_app_info), D9/I8
 * (credential list with labels and references: st_iotsafe_foreach_object),
 * E1-E5/F2 (signatures: st_iotsafe_sign / st_iotsafe_verify), E3 (certificates
 * as files: st_iotsafe_read_file), E6/F4/F7 (ECDHE: st_iotsafe_generate_key,
 * st_iotsafe_put_public_key, st_iotsafe_compute_dh), F5/J4 (TLS 1.2 PRF:
 * st_iotsafe_prf), F6/J5 (TLS 1.3 HKDF: st_iotsafe_hkdf_extract/expand), K3
 * (SW 63CF is success, visible in st_sim_last_sw).
 *
 * Conventions (in addition to error.h and apdu.h):
 *  - struct st_iotsafe is caller-allocated, initialised by st_iotsafe_init();
 *    fields are private. It refers to an st_sim that must outlive it.
 *  - Every function returns ST_OK or a negative st_status. Outputs are
 *    written only on ST_OK; length parameters marked "in/out" carry the
 *    capacity in and the length out.
 *  - Errors common to all commands: ST_E_ARG (NULL or out-of-range input),
 *    ST_E_STATE (the applet is not open), transport codes (ST_E_NO_CARD when
 *    the card disappears mid-sequence, ...), card codes (the raw SW is in
 *    st_sim_last_sw), ST_E_PARSE (a malformed answer), ST_E_BUFFER (an
 *    output buffer is too small for the card's answer), ST_E_UNSUPPORTED (a
 *    command that has no block structure does not fit the link's max_apdu;
 *    st_sim_detail() says which).
 *  - Threads: one st_iotsafe (and its st_sim) may be shared by threads when
 *    the st_sim has lock callbacks; each call holds the lock for its whole
 *    APDU sequence (close + open + update blocks + close, GET DATA
 *    continuations, READ FILE chunks...), so sequences never interleave.
 *  - Secrets: buffers that held secret data inside the library (command
 *    data of PRF and HKDF, the DH answer) are wiped before returning. The
 *    outputs of st_iotsafe_prf and st_iotsafe_hkdf_* are written in place
 *    and zeroed on failure (an exception to "written only on success").
 */
#ifndef SIMTRUST_IOTSAFE_H
#define SIMTRUST_IOTSAFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simtrust/apdu.h"
#include "simtrust/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The GSMA AID A0 00 00 05 59 00 10 (ORA, WS, Kigen). */
#define ST_IOTSAFE_AID_DEFAULT "\xA0\x00\x00\x05\x59\x00\x10"
#define ST_IOTSAFE_AID_DEFAULT_LEN 7
#define ST_IOTSAFE_AID_MAX 16

#define ST_IOTSAFE_ID_MAX 20    /* object ID bytes */
#define ST_IOTSAFE_LABEL_MAX 60 /* object label bytes */

/* Object kinds; each is its own namespace of IDs and labels. */
enum st_iotsafe_kind {
    ST_IOTSAFE_PRIVATE_KEY = 0, /* ID 84, label 74, list entry C1 */
    ST_IOTSAFE_PUBLIC_KEY = 1,  /* ID 85, label 75, list entry C2 */
    ST_IOTSAFE_FILE = 2,        /* ID 83, label 73, list entry C3 */
    ST_IOTSAFE_SECRET_KEY = 3,  /* ID 86, label 76, list entry C4 */
};

/* A reference to an object: its ID or its label (never both, reference §2). */
struct st_iotsafe_ref {
    bool by_label;
    uint8_t len;
    uint8_t bytes[ST_IOTSAFE_LABEL_MAX];
};

/* Fills a reference by ID (1..20 bytes) or label (1..60 bytes). ST_E_ARG otherwise. */
int st_iotsafe_ref_id(struct st_iotsafe_ref *ref, const uint8_t *id, size_t len);
int st_iotsafe_ref_label(struct st_iotsafe_ref *ref, const void *label, size_t len);

/* Values of the attribute TLVs (reference §3). */
#define ST_IOTSAFE_HASH_SHA256 0x0001
#define ST_IOTSAFE_HASH_SHA384 0x0002
#define ST_IOTSAFE_HASH_SHA512 0x0004
#define ST_IOTSAFE_SIG_RSA_PKCS1 0x01
#define ST_IOTSAFE_SIG_RSA_PSS 0x02
#define ST_IOTSAFE_SIG_ECDSA 0x04
#define ST_IOTSAFE_MODE_FULL_TEXT 0x01  /* the card hashes the data (9B) */
#define ST_IOTSAFE_MODE_LAST_BLOCK 0x02 /* the card finishes a SHA-256 (9A 9C 9D) */
#define ST_IOTSAFE_MODE_PAD_SIGN 0x03   /* the device hashed (9E) */

/* Digest length of a hash value (32, 48, 64), 0 for anything else. */
size_t st_iotsafe_hash_len(uint16_t hash);

/* Options of st_iotsafe_config.flags. */
#define ST_IOTSAFE_BASIC_CHANNEL 0x0001  /* no logical channel: SELECT on channel 0 */
#define ST_IOTSAFE_MANAGE_CHANNEL 0x0002 /* MANAGE CHANNEL even if the transport has open_channel  \
                                          */
#define ST_IOTSAFE_TRANSPORT_CHANNEL 0x0004 /* the transport's open_channel (AT+CCHO) or fail */
#define ST_IOTSAFE_SIG_LEN1 0x0008          /* VERIFY sends 33 40 (NTT/ORA), not 33 00 40 */
#define ST_IOTSAFE_NO_PRECLOSE 0x0010       /* skip the close before each session open */
#define ST_IOTSAFE_KEEP_SESSION 0x0020      /* skip the close after each session */

struct st_iotsafe_config {
    uint8_t aid[ST_IOTSAFE_AID_MAX];
    uint8_t aid_len;
    uint8_t cla;          /* ST_CLA_PROPRIETARY (default, WS/ATS/QT) or ST_CLA_ISO (ORA/THM/NTT) */
    uint16_t flags;       /* ST_IOTSAFE_* */
    uint8_t session_sign; /* P2 of COMPUTE SIGNATURE, default 01 (WS, ORA, ATS) */
    uint8_t session_verify; /* P2 of VERIFY SIGNATURE, default 01 (WS) */
    uint8_t session_putkey; /* P2 of PUT PUBLIC KEY, default 02 (WS) */
    uint8_t read_le;        /* Le of READ FILE, 0 = 00 (the card picks); ORA uses 50 */
};

/* The defaults above: GSMA AID, CLA 8X, a logical channel, 33 00 40. */
void st_iotsafe_config_default(struct st_iotsafe_config *cfg);

struct st_iotsafe {
    /* Private. */
    struct st_sim *sim;
    struct st_iotsafe_config cfg;
    uint8_t channel;
    bool open;
    bool via_transport;
};

/*
 * Binds a client to a session; cfg NULL means the defaults (copied). Never
 * sends anything. ST_E_ARG for an AID of 0 or more than 16 bytes or a class
 * other than 00 / 80.
 */
int st_iotsafe_init(struct st_iotsafe *ios, struct st_sim *sim,
                    const struct st_iotsafe_config *cfg);

/* The session the client drives (for st_sim_last_sw, st_sim_detail). */
struct st_sim *st_iotsafe_sim(const struct st_iotsafe *ios);

/*
 * Opens the applet: a logical channel (MANAGE CHANNEL open, 00 70 00 00 01,
 * or the transport's open_channel when it has one, see the flags) and SELECT
 * of the configured AID on it, or SELECT on the basic channel with
 * ST_IOTSAFE_BASIC_CHANNEL. A channel opened for a SELECT that fails is
 * closed again. Errors: ST_E_STATE (already open), ST_E_CARD_NOT_FOUND (6A82:
 * no such applet), ST_E_CARD_CHANNEL (no channel left), ST_E_UNSUPPORTED
 * (ST_IOTSAFE_TRANSPORT_CHANNEL on a transport without open_channel).
 */
int st_iotsafe_open(struct st_iotsafe *ios);

/*
 * Closes the logical channel (MANAGE CHANNEL close or the transport's
 * close_channel); nothing to send on the basic channel. The client is closed
 * afterwards even when the card or link fails (the error is returned).
 */
int st_iotsafe_close(struct st_iotsafe *ios);

bool st_iotsafe_is_open(const struct st_iotsafe *ios);
uint8_t st_iotsafe_channel(const struct st_iotsafe *ios);

/* ---- Discovery (GET DATA, INS CB) ---- */

/* Presence bits of st_iotsafe_app_info.present. */
#define ST_IOTSAFE_APP_VERSION 0x0001
#define ST_IOTSAFE_APP_ID 0x0002
#define ST_IOTSAFE_APP_MAX_FILES 0x0004
#define ST_IOTSAFE_APP_MAX_PRIVATE 0x0008
#define ST_IOTSAFE_APP_MAX_PUBLIC 0x0010
#define ST_IOTSAFE_APP_MAX_SECRET 0x0020
#define ST_IOTSAFE_APP_FUNCTIONS 0x0040
#define ST_IOTSAFE_APP_HASH 0x0080
#define ST_IOTSAFE_APP_SIG 0x0100
#define ST_IOTSAFE_APP_KEY_AGREEMENT 0x0200
#define ST_IOTSAFE_APP_KEY_DERIVATION 0x0400
#define ST_IOTSAFE_APP_MAX_SESSIONS 0x0800

/* GET DATA application (P1 = 00): the applet's capabilities (IoT.04 D3, I4). */
struct st_iotsafe_app_info {
    uint16_t present; /* ST_IOTSAFE_APP_* of the tags seen */
    uint8_t version;  /* 10 */
    uint8_t proprietary_id_len;
    uint8_t proprietary_id[32]; /* 11 (32 bytes per the spec; shorter accepted) */
    uint8_t max_files;          /* B1 */
    uint8_t max_private_keys;   /* B2 */
    uint8_t max_public_keys;    /* B3 */
    uint8_t max_secret_keys;    /* B4 */
    uint8_t functions;      /* 90: bit0 sign, bit1 keygen, bit2 key agreement, bit3 derivation */
    uint16_t hash_algos;    /* 91 (2 bytes; the 1-byte form of a buggy applet accepted) */
    uint8_t sig_algos;      /* 92 */
    uint8_t key_agreement;  /* 93 */
    uint8_t key_derivation; /* 94 */
    uint8_t max_sessions;   /* B7 */
};

int st_iotsafe_get_app_info(struct st_iotsafe *ios, struct st_iotsafe_app_info *info);

/* Parses a GET DATA application answer (tags in any order; unknown tags skipped). */
int st_iotsafe_parse_app_info(const uint8_t *buf, size_t len, struct st_iotsafe_app_info *info);

/* Presence bits of st_iotsafe_object.present. */
#define ST_IOTSAFE_OBJ_ACCESS 0x0001
#define ST_IOTSAFE_OBJ_STATE 0x0002
#define ST_IOTSAFE_OBJ_KEY_TYPE 0x0004
#define ST_IOTSAFE_OBJ_USAGE 0x0008
#define ST_IOTSAFE_OBJ_FUNCTIONS 0x0010
#define ST_IOTSAFE_OBJ_SIG 0x0020
#define ST_IOTSAFE_OBJ_HASH 0x0040
#define ST_IOTSAFE_OBJ_KEY_AGREEMENT 0x0080
#define ST_IOTSAFE_OBJ_KEY_DERIVATION 0x0100
#define ST_IOTSAFE_OBJ_SIZE 0x0200

/* One object's information structure (reference §2.4, §3). */
struct st_iotsafe_object {
    enum st_iotsafe_kind kind;
    uint16_t present; /* ST_IOTSAFE_OBJ_* of the attributes seen */
    uint8_t id_len;   /* 0: the object has no ID TLV */
    uint8_t id[ST_IOTSAFE_ID_MAX];
    uint8_t label_len; /* 0: no label */
    uint8_t label[ST_IOTSAFE_LABEL_MAX];
    uint8_t access;         /* 60: bit0 read, bit1 update */
    uint8_t state;          /* 4A: 01 activated, 00 empty */
    uint8_t key_type;       /* 4B: 13 P-256, 14 P-256 volatile, 03 RSA-2048, A0 HMAC... */
    uint8_t usage;          /* 4E (keys) or 21 (files: 02 certificate) */
    uint8_t functions;      /* 61 */
    uint8_t sig_algos;      /* 92 */
    uint16_t hash_algos;    /* 91 */
    uint8_t key_agreement;  /* 6F */
    uint8_t key_derivation; /* 94 */
    uint16_t size;          /* 20: file size, big-endian on the wire */
};

/*
 * Visitor of st_iotsafe_foreach_object: return ST_OK to go on; any other
 * value stops the walk and is returned by it (use a positive value for "found,
 * stop"). Called with the session lock held: it MUST NOT call the library on
 * the same session. The object is only valid during the call.
 */
typedef int (*st_iotsafe_object_fn)(void *arg, const struct st_iotsafe_object *obj);

/*
 * GET DATA object list (P1 = 01), following SW 6300 with P2 = 01 until the
 * end (THP). Accepts entries in any order, one object per Cx (ORA) or several
 * (THP: a new object starts at a repeated ID/label or at an ID/label after
 * attributes), attributes in any order, unknown tags skipped. An entry may
 * straddle two answers. No allocation: memory use is bounded by one entry.
 */
int st_iotsafe_foreach_object(struct st_iotsafe *ios, st_iotsafe_object_fn fn, void *arg);

/* The list into a caller's array; *count in/out. ST_E_BUFFER when it is too short. */
int st_iotsafe_list_objects(struct st_iotsafe *ios, struct st_iotsafe_object *objs, size_t *count);

/*
 * Parses the body of one Cx entry (the attribute TLVs) of kind and reports
 * each object to fn. ST_E_PARSE on a malformed TLV, an ID over 20 or a label
 * over 60 bytes, or a wrongly sized attribute.
 */
int st_iotsafe_parse_entry(enum st_iotsafe_kind kind, const uint8_t *buf, size_t len,
                           st_iotsafe_object_fn fn, void *arg);

/*
 * GET DATA one object (P1 = C1..C4 by kind): its information structure.
 * The answer may come with its Cx wrapper (reference rule 8.5) or without
 * (M33). Errors: ST_E_CARD_NOT_FOUND (6A82), ...
 */
int st_iotsafe_get_object(struct st_iotsafe *ios, enum st_iotsafe_kind kind,
                          const struct st_iotsafe_ref *ref, struct st_iotsafe_object *obj);

/*
 * Object discovery by label or ID: GET DATA one object, falling back to a
 * walk of the object list when the applet lacks that P1 (6A86, 6D00, 6A81,
 * 6A80, 6700). ST_E_NOT_FOUND when no such object exists.
 */
int st_iotsafe_find_object(struct st_iotsafe *ios, enum st_iotsafe_kind kind,
                           const struct st_iotsafe_ref *ref, struct st_iotsafe_object *obj);

/* ---- Files (READ FILE, INS B0) ---- */

/*
 * Reads a whole file (a certificate, IoT.04 E3) into buf, *len in/out. The
 * size comes from GET DATA C3 when the applet answers it (then a file larger
 * than *len fails before any read with ST_E_BUFFER); chunks are as long as
 * the card makes them (Le from the config); the read stops at the size, at
 * an empty chunk, or at SW 6981 / 6A86 / 6B00 / 6282 past offset 0 when the
 * size is unknown. Offsets are 16-bit: files up to 65535 bytes.
 */
int st_iotsafe_read_file(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref, uint8_t *buf,
                         size_t *len);

/*
 * One READ FILE at offset (for devices that stream a certificate): at most
 * *len bytes (0 < *len; Le = min(*len, 256)); *len = 0 at the end of the file
 * (6981 / 6A86 / 6B00).
 */
int st_iotsafe_read_file_at(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref, size_t offset,
                            uint8_t *buf, size_t *len);

/* ---- Random (GET RANDOM, INS 84) ---- */

/* len random bytes (any length: several GET RANDOM of up to 256). */
int st_iotsafe_get_random(struct st_iotsafe *ios, uint8_t *buf, size_t len);

/* ---- Signatures (COMPUTE / VERIFY SIGNATURE, INS 2A 2B / 2C 2D) ---- */

/*
 * What to sign or verify:
 *  mode FULL_TEXT:  data/len is the message; the card hashes it with hash.
 *                   Sent as 9B blocks chunked to the link (P1 00 ... 80).
 *  mode LAST_BLOCK: state is the SHA-256 chaining value H0..H7 (32 bytes,
 *                   big-endian) after done bytes (a multiple of 64), data/len
 *                   the rest of the message; hash must be SHA-256 (or 0).
 *  mode PAD_SIGN:   data/len is the digest (9E); hash 0 takes it from the
 *                   digest length (32/48/64), as applets do (rule 8.8).
 * alg 0 means ECDSA.
 */
struct st_iotsafe_sig_input {
    uint8_t mode;
    uint16_t hash;
    uint8_t alg;
    const uint8_t *data;
    size_t len;
    const uint8_t *state;
    uint32_t done;
};

/*
 * COMPUTE SIGNATURE with a private key: session close (ignoring its SW,
 * like ORA), Init, Update block(s), close. The signature comes back as raw
 * r || s for ECDSA (whichever of 33 00 40 / 33 40 / 33 81 xx the applet
 * uses; a DER signature from an applet is converted) or the RSA signature;
 * sig / *sig_len in/out. The session number is the config's session_sign.
 */
int st_iotsafe_sign(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                    const struct st_iotsafe_sig_input *in, uint8_t *sig, size_t *sig_len);

/* Shorthand: pad & sign of a digest with ECDSA (the TLS CertificateVerify case). */
int st_iotsafe_sign_digest(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                           const uint8_t *digest, size_t dlen, uint8_t *sig, size_t *sig_len);

/*
 * VERIFY SIGNATURE with a public key object (IoT.04 F3): ST_OK when valid,
 * ST_E_CARD_SIGNATURE (6D01) when not. sig is raw r || s (ECDSA) or the RSA
 * signature, sent as 33 00 40 (or 33 40 with ST_IOTSAFE_SIG_LEN1; BER above
 * 127 bytes); a long signature is split over several Update blocks.
 */
int st_iotsafe_verify(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                      const struct st_iotsafe_sig_input *in, const uint8_t *sig, size_t sig_len);

/* Shorthand: ECDSA verification of a digest. */
int st_iotsafe_verify_digest(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                             const uint8_t *digest, size_t dlen, const uint8_t *sig,
                             size_t sig_len);

/*
 * Extracts the signature from a COMPUTE SIGNATURE answer: a 33 TLV in the
 * 2-byte form (33 00 40), 1-byte form (33 40) or BER (33 81 xx / 33 82 xx xx),
 * whichever spans the answer exactly. With alg ECDSA a DER
 * ECDSA-Sig-Value inside is converted to raw r || s. sig / *sig_len in/out.
 */
int st_iotsafe_parse_signature(const uint8_t *buf, size_t len, uint8_t alg, uint8_t *sig,
                               size_t *sig_len);

/*
 * ECDSA signature format helpers (no card involved). raw is r || s with two
 * halves of equal length (raw_len even, at most 132); DER is the X.509
 * ECDSA-Sig-Value SEQUENCE { INTEGER r, INTEGER s }. der / *der_len and
 * raw / *raw_len in/out. st_ecdsa_der_to_raw: coord_len 0 picks 32, 48 or 66
 * from the integers' size; ST_E_PARSE for anything but one strict DER
 * SEQUENCE of two positive INTEGERs that fit.
 */
int st_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t *der, size_t *der_len);
int st_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t coord_len, uint8_t *raw,
                        size_t *raw_len);

/* ---- Keys (GENERATE KEY PAIR B9, READ PUBLIC KEY CD, PUT PUBLIC KEY 24 D8) ---- */

#define ST_IOTSAFE_POINT_MAX 133 /* uncompressed point of up to P-521 */
#define ST_IOTSAFE_RSA_N_MAX 256 /* RSA-2048 modulus */
#define ST_IOTSAFE_RSA_E_MAX 8

enum st_iotsafe_pubkey_type {
    ST_IOTSAFE_PUBKEY_EC = 1,  /* 34 { 49 { 86 <04 || X || Y> } } (spec clause 2.5.7) */
    ST_IOTSAFE_PUBKEY_RSA = 2, /* 34 { 49 { 81 <modulus> 82 <exponent> } } (card extension) */
};

struct st_iotsafe_pubkey {
    enum st_iotsafe_pubkey_type type;
    uint16_t point_len;
    uint8_t point[ST_IOTSAFE_POINT_MAX]; /* EC: uncompressed 04 || X || Y */
    uint16_t n_len;
    uint8_t n[ST_IOTSAFE_RSA_N_MAX]; /* RSA modulus, big-endian */
    uint8_t e_len;
    uint8_t e[ST_IOTSAFE_RSA_E_MAX]; /* RSA public exponent */
};

/* An EC public key from an uncompressed point (1..133 bytes, first byte 04). */
int st_iotsafe_pubkey_ec(struct st_iotsafe_pubkey *pk, const uint8_t *point, size_t len);

/*
 * Parses a public key TLV (34 {49 {86 | 81 82}}); also accepted: 34 without
 * the 49 level, and a bare 65-byte point 04 || X || Y.
 */
int st_iotsafe_parse_public_key(const uint8_t *buf, size_t len, struct st_iotsafe_pubkey *pk);

/* READ PUBLIC KEY of a public key object. */
int st_iotsafe_read_public_key(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref,
                               struct st_iotsafe_pubkey *pk);

/*
 * GENERATE KEY PAIR of a private key object (IoT.04 F7, H1: on-board key
 * generation). The card may change the IDs ("This operation may modify the
 * key ID", ATS): priv receives the private key's reference as the card
 * reports it (else the one given), pub the public key's (has_pub false if
 * the card names none). When the answer has no 34 TLV the public key is read
 * with READ PUBLIC KEY from the reported public key, or from the public key
 * with the same reference (WS).
 */
struct st_iotsafe_keygen {
    struct st_iotsafe_ref priv;
    bool has_pub;
    struct st_iotsafe_ref pub;
    struct st_iotsafe_pubkey key;
};

int st_iotsafe_generate_key(struct st_iotsafe *ios, const struct st_iotsafe_ref *priv,
                            struct st_iotsafe_keygen *out);

/*
 * PUT PUBLIC KEY into a public key object (a peer's ECDHE share, a server
 * key to verify with): session close, Init (24), Update D8 blocks split to
 * the link (P1 00 ... 80), close. Session number: the config's
 * session_putkey.
 */
int st_iotsafe_put_public_key(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref,
                              const struct st_iotsafe_pubkey *pk);

/* ---- Key agreement and derivation (46, 48, 4A) ---- */

/* COMPUTE DH: the raw shared secret (x-coordinate); secret / *len in/out. */
int st_iotsafe_compute_dh(struct st_iotsafe *ios, const struct st_iotsafe_ref *priv,
                          const struct st_iotsafe_ref *pub, uint8_t *secret, size_t *len);

#define ST_IOTSAFE_PRF_GENERAL 0x00   /* secret given (D1) */
#define ST_IOTSAFE_PRF_PSK 0x01       /* a secret key object (RFC 4279 pre-master) */
#define ST_IOTSAFE_PRF_PSK_ECDHE 0x02 /* a secret key object and an ECDHE secret (RFC 5489) */

/* Parameters of COMPUTE PRF (TLS 1.2 PRF-SHA256, IoT.04 J4, F5). */
struct st_iotsafe_prf_params {
    uint8_t mode;                     /* ST_IOTSAFE_PRF_* (P1) */
    const struct st_iotsafe_ref *psk; /* modes PSK, PSK_ECDHE: 86 / 76 */
    const uint8_t *secret;            /* mode GENERAL: D1 */
    size_t secret_len;
    const uint8_t *other; /* mode PSK_ECDHE: D4, the ECDHE secret */
    size_t other_len;
    const uint8_t *label; /* D2 = label || seed */
    size_t label_len;
    const uint8_t *seed;
    size_t seed_len;
};

/* COMPUTE PRF: out_len (1..255, D3) bytes of output. */
int st_iotsafe_prf(struct st_iotsafe *ios, const struct st_iotsafe_prf_params *p, uint8_t *out,
                   size_t out_len);

/*
 * HKDF key input: bytes (D1) or, with ref != NULL, a secret key object
 * (86 / 76; the card's extension, docs/card-crypto.md).
 */
struct st_iotsafe_key_input {
    const struct st_iotsafe_ref *ref;
    const uint8_t *bytes;
    size_t len;
};

/*
 * COMPUTE HKDF Extract (IoT.04 J5, F6): PRK = HMAC-Hash(salt, IKM). An empty
 * salt is sent as HashLen zero bytes (the same PRK; applets reject a missing
 * salt, wolfSSL PR 4676). hash 0 means SHA-256. prk / *prk_len in/out.
 */
int st_iotsafe_hkdf_extract(struct st_iotsafe *ios, uint16_t hash,
                            const struct st_iotsafe_key_input *ikm, const uint8_t *salt,
                            size_t salt_len, uint8_t *prk, size_t *prk_len);

/*
 * COMPUTE HKDF Expand (P1 = 01, the card's extension): out_len bytes (1..1024;
 * D3 of 1 or 2 bytes) from a PRK given as bytes or as a secret key object,
 * with optional info (D6).
 */
int st_iotsafe_hkdf_expand(struct st_iotsafe *ios, uint16_t hash,
                           const struct st_iotsafe_key_input *prk, const uint8_t *info,
                           size_t info_len, uint8_t *out, size_t out_len);

#ifdef __cplusplus
}
#endif
#endif
