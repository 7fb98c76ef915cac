/*
 * Tolerant TLV splitting for the IoT SAFE crypto commands.
 *
 * Clients disagree on length encodings (reference §2.8, §2.14): THM writes
 * every length as one byte even above 127 ("D2 4D", "D2 A0"), THM/WS use BER
 * for 9B and 34, and the signature TLV comes as 33 40, 33 00 40 or 33 81 xx.
 * A length byte of 81/82 (or 00/01 for 33) can therefore be read two ways.
 * st_tlv_split() resolves that by requiring the *whole* command data to split
 * into TLVs with the command's own tags: it tries the readings of each
 * ambiguous length in a fixed order and backtracks when the rest of the data
 * does not split. Order of preference (it only matters when two readings
 * both consume the data exactly, e.g. "9B 81 80 <128 bytes>"):
 *   2-byte form (tags with ST_TLV_2BYTE, first length byte 00 or 01),
 *   then BER 81 xx / 82 xx xx (tags with ST_TLV_BER),
 *   then the plain single length byte.
 * See docs/card-crypto.md.
 */
#ifndef SIMTRUST_CARD_IOTSAFE_TLV_H
#define SIMTRUST_CARD_IOTSAFE_TLV_H

#include <stddef.h>
#include <stdint.h>

/* Length forms a tag accepts besides the plain one-byte length. */
#define ST_TLV_BER 0x01    /* 81 xx, 82 xx xx */
#define ST_TLV_2BYTE 0x02  /* 00 xx / 01 xx big-endian (the 33 00 40 form) */
#define ST_TLV_REPEAT 0x04 /* the tag may occur more than once */

struct st_tlv_rule {
    uint8_t tag;
    uint8_t flags;
};

struct st_tlv {
    uint8_t tag;
    const uint8_t *raw; /* tag byte */
    size_t raw_len;     /* tag + length + value */
    const uint8_t *v;
    size_t len;
};

#define ST_TLV_MAX 12 /* most TLVs one command data field may carry */

/*
 * Splits data[0..len) into TLVs whose tags are all listed in rules (a tag
 * without ST_TLV_REPEAT at most once). Fills out[0..*n). Returns 0, or -1 if
 * the data does not split that way (callers answer 6A80).
 */
int st_tlv_split(const uint8_t *data, size_t len, const struct st_tlv_rule *rules, size_t nrules,
                 struct st_tlv *out, size_t *n);

/* First TLV with tag in t[0..n), or NULL. */
const struct st_tlv *st_tlv_find(const struct st_tlv *t, size_t n, uint8_t tag);

/*
 * The object reference among t[0..n): the ID TLV id_tag (83..86) or the
 * label TLV id_tag - 0x10. Sets *ref to it (NULL when there is none);
 * returns -1 when both are given (reference §2: never both).
 */
int st_tlv_ref(const struct st_tlv *t, size_t n, uint8_t id_tag, const struct st_tlv **ref);

#endif
