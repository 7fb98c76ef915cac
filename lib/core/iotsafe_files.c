/*
 * READ FILE (INS B0): certificates and other binary files (IoT.04 E3).
 * Reference §2.6 and "APDU sizes and chunking": the card chooses the chunk
 * size (255, 240, or Le); the end is the size from GET DATA C3, an empty
 * chunk, or an error SW at the offset past the end (6981 or 6A86 per the
 * spec, 6B00 from some applets, 6282 "end reached before Le bytes").
 */
#include <string.h>

#include "iotsafe_int.h"

#define OFFSET_MAX 0xFFFF /* P1 P2 */

/* SWs that say "nothing at this offset" (the end of the file). */
static bool is_eof_sw(uint16_t sw)
{
    return sw == 0x6981 || sw == 0x6A86 || sw == 0x6B00;
}

/*
 * One READ FILE at offset into buf (cap bytes, Le = le or 00). *got is the
 * data length; *eof is set when the card says the end was reached.
 */
static int read_chunk(struct st_iotsafe *ios, const uint8_t *ref_tlv, size_t ref_len, size_t offset,
                      size_t le, uint8_t *buf, size_t cap, size_t *got, bool *eof)
{
    size_t n = cap;
    uint16_t sw;
    *eof = false;
    int rc = st_ios_exchange(ios, INS_READ_FILE, (uint8_t)(offset >> 8), (uint8_t)offset, ref_tlv,
                             ref_len, le, buf, &n, &sw);
    if (rc == ST_E_BUFFER)
        st_sim_set_detail(ios->sim, "READ FILE: the file is larger than the buffer");
    if (rc != ST_OK)
        return rc;
    if (is_eof_sw(sw)) {
        *got = 0;
        *eof = true;
        return ST_OK;
    }
    if (sw == 0x6282) { /* data up to the end of the file */
        *got = n;
        *eof = true;
        return ST_OK;
    }
    rc = st_status_from_sw(sw);
    if (rc != ST_OK)
        return rc;
    *got = n;
    *eof = n == 0;
    return ST_OK;
}

static int read_file_locked(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref, uint8_t *buf,
                            size_t *len)
{
    uint8_t cmd[2 + ST_IOTSAFE_LABEL_MAX];
    struct st_tlv_writer w;
    struct st_iotsafe_object obj;
    size_t cap = *len, off = 0, size = 0;
    bool known = false;

    st_tlv_writer_init(&w, cmd, sizeof(cmd));
    st_ios_put_ref(&w, ST_IOTSAFE_FILE, ref);

    /* The size first (WS does the same), when the applet answers GET DATA C3. */
    int rc = st_ios_get_object(ios, ST_IOTSAFE_FILE, ref, &obj);
    if (rc == ST_OK && (obj.present & ST_IOTSAFE_OBJ_SIZE)) {
        known = true;
        size = obj.size;
        if (size > cap)
            return st_ios_fail(ios, ST_E_BUFFER, "READ FILE: the file is larger than the buffer");
    } else if (rc == ST_E_CARD_NOT_FOUND || (rc <= -200 && rc > -300)) {
        return rc; /* no such file, or the link is gone */
    }
    /* Any other failure of GET DATA: read until the card says the end. */

    for (;;) {
        if (known && off >= size)
            break;
        if (off > OFFSET_MAX)
            return st_ios_fail(ios, ST_E_UNSUPPORTED, "READ FILE: offset beyond 65535");
        size_t le = ios->cfg.read_le ? ios->cfg.read_le : LE_ANY;
        size_t got = 0;
        bool eof;
        rc = read_chunk(ios, cmd, w.len, off, le, buf + off, cap - off, &got, &eof);
        if (rc != ST_OK)
            return rc;
        if (known && got > size - off)
            return st_ios_fail(ios, ST_E_PARSE, "READ FILE: more data than the file size");
        off += got;
        if (eof) {
            if (known && off < size)
                return st_ios_fail(ios, ST_E_PARSE, "READ FILE: the file ended before its size");
            break;
        }
    }
    *len = off;
    return ST_OK;
}

int st_iotsafe_read_file(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref, uint8_t *buf,
                         size_t *len)
{
    if (!st_ios_ref_ok(ref) || len == NULL || (buf == NULL && *len > 0))
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    return st_ios_end(ios, read_file_locked(ios, ref, buf, len));
}

int st_iotsafe_read_file_at(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref, size_t offset,
                            uint8_t *buf, size_t *len)
{
    uint8_t cmd[2 + ST_IOTSAFE_LABEL_MAX];
    struct st_tlv_writer w;
    if (!st_ios_ref_ok(ref) || len == NULL || *len == 0 || buf == NULL || offset > OFFSET_MAX)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    st_tlv_writer_init(&w, cmd, sizeof(cmd));
    st_ios_put_ref(&w, ST_IOTSAFE_FILE, ref);
    size_t le = *len < LE_ANY ? *len : LE_ANY;
    size_t got = 0;
    bool eof;
    rc = read_chunk(ios, cmd, w.len, offset, le, buf, *len, &got, &eof);
    if (rc == ST_OK)
        *len = got;
    return st_ios_end(ios, rc);
}
