/*
 * Bounded TLV reading and writing for the IoT SAFE data objects (1-byte
 * tags; reference §2, §3).
 *
 * Reading is a cursor over a caller's buffer: st_tlv_next() returns one
 * TLV at a time, pointing into that buffer (nothing is copied), and never
 * reads past its end. Length forms:
 *   - default: one byte 00..7F, or BER 81 xx / 82 xx xx;
 *   - ST_TLV_LEN2: two bytes big-endian (the "33 00 40" signature form of
 *     Kigen, Thales and wolfSSL, reference §2.8) - only where a caller asks;
 *   - ST_TLV_LEN1: one byte 00..FF, never BER (THM writes "D2 A0").
 * Outputs are written only on success; on failure the cursor does not move.
 *
 * Writing appends to a caller's buffer with a sticky overflow flag
 * (BearSSL-style): once a write does not fit, nothing more is written and
 * st_tlv_writer_status() reports ST_E_BUFFER, so a sequence of puts needs a
 * single check at the end.
 *
 * No allocation; any thread may use its own cursors and writers.
 */
#ifndef SIMTRUST_TLV_H
#define SIMTRUST_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simtrust/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Length forms (flags of st_tlv_next / st_tlv_put_form). */
#define ST_TLV_BER 0x00  /* 1 byte < 0x80, 81 xx, 82 xx xx */
#define ST_TLV_LEN1 0x01 /* exactly one byte, 00..FF */
#define ST_TLV_LEN2 0x02 /* exactly two bytes, big-endian */

struct st_tlv_cursor {
    const uint8_t *p;   /* next byte to read */
    const uint8_t *end; /* one past the last byte */
};

struct st_tlv_item {
    uint8_t tag;
    const uint8_t *value; /* into the cursor's buffer */
    size_t len;
    size_t header; /* bytes of tag + length */
};

/* Starts a cursor over buf[0..len). buf may be NULL when len is 0. */
void st_tlv_cursor_init(struct st_tlv_cursor *c, const uint8_t *buf, size_t len);

/* True when every byte has been consumed. */
bool st_tlv_cursor_done(const struct st_tlv_cursor *c);

/* Bytes left. */
size_t st_tlv_cursor_left(const struct st_tlv_cursor *c);

/*
 * Reads the next TLV with the given length form and advances past it.
 * Returns ST_OK, ST_E_NOT_FOUND at the end of the buffer (nothing left), or
 * ST_E_PARSE when the header is cut short, the length form is invalid (80,
 * 83..FF in BER; a non-minimal BER length is accepted) or the value runs past
 * the end. *item is written only on ST_OK.
 */
int st_tlv_next(struct st_tlv_cursor *c, unsigned form, struct st_tlv_item *item);

/*
 * Scans buf[0..len) as a sequence of TLVs (default form) and finds the
 * first with tag. Returns ST_OK, ST_E_NOT_FOUND, or ST_E_PARSE if the
 * sequence is malformed before tag was found.
 */
int st_tlv_find_tag(const uint8_t *buf, size_t len, uint8_t tag, struct st_tlv_item *item);

/* Big-endian value of a 1- or 2-byte TLV; ST_E_PARSE for other lengths. */
int st_tlv_u8(const struct st_tlv_item *item, uint8_t *v);
int st_tlv_u16(const struct st_tlv_item *item, uint16_t *v);

struct st_tlv_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool overflow;
};

/* Starts a writer over buf[0..cap). */
void st_tlv_writer_init(struct st_tlv_writer *w, uint8_t *buf, size_t cap);

/* ST_OK, or ST_E_BUFFER once anything did not fit. */
int st_tlv_writer_status(const struct st_tlv_writer *w);

/* Appends raw bytes. */
void st_tlv_put_raw(struct st_tlv_writer *w, const void *p, size_t n);

/*
 * Appends tag || length || value with a length form: ST_TLV_BER (shortest
 * BER), ST_TLV_LEN1 (n <= 255) or ST_TLV_LEN2 (n <= 65535). A length the
 * form cannot express sets the overflow flag. v may be NULL when n is 0.
 */
void st_tlv_put_form(struct st_tlv_writer *w, uint8_t tag, const void *v, size_t n, unsigned form);

/*
 * Appends only tag || length for n value bytes that the caller then appends
 * with st_tlv_put_raw (a value made of several pieces, e.g. label || seed).
 */
void st_tlv_put_header(struct st_tlv_writer *w, uint8_t tag, size_t n, unsigned form);

/* Shortest BER form. */
void st_tlv_put(struct st_tlv_writer *w, uint8_t tag, const void *v, size_t n);
void st_tlv_put_u8(struct st_tlv_writer *w, uint8_t tag, uint8_t v);
void st_tlv_put_u16(struct st_tlv_writer *w, uint8_t tag, uint16_t v); /* 2 bytes BE */

/* Bytes of a TLV header for n value bytes in the shortest BER form. */
size_t st_tlv_header_len(size_t n);

#ifdef __cplusplus
}
#endif
#endif
