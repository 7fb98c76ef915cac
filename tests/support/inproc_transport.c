/* In-process test transport over simtrust-card: see inproc_transport.h. */
#include "inproc_transport.h"

#include <string.h>

#include "simtrust/error.h"

static bool fault_matches(struct st_inproc *ip, const uint8_t *c, size_t clen)
{
    if (ip->fault.kind == ST_INPROC_NONE)
        return false;
    if (ip->fault.ins >= 0 && (clen < 2 || c[1] != (uint8_t)ip->fault.ins))
        return false;
    if (ip->fault.skip > 0) {
        ip->fault.skip--;
        return false;
    }
    return true;
}

static int inproc_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen)
{
    struct st_inproc *ip = ctx;
    uint8_t out[ST_RAPDU_MAX];
    size_t n;
    ip->count++;
    if (ip->removed)
        return ST_E_NO_CARD;
    if (*rlen < ST_RESPONSE_MAX)
        return ST_E_ARG;
    if (fault_matches(ip, c, clen)) {
        enum st_inproc_fault kind = ip->fault.kind;
        ip->fault.kind = ST_INPROC_NONE;
        switch (kind) {
        case ST_INPROC_REMOVE:
            ip->removed = true;
            st_card_power(ip->card, ST_POWER_OFF, NULL, 0);
            return ST_E_NO_CARD;
        case ST_INPROC_SW:
            r[0] = (uint8_t)(ip->fault.sw >> 8);
            r[1] = (uint8_t)ip->fault.sw;
            *rlen = 2;
            goto observed;
        case ST_INPROC_GARBAGE:
            n = ip->fault.len < *rlen ? ip->fault.len : *rlen;
            memcpy(r, ip->fault.bytes, n);
            *rlen = n;
            goto observed;
        case ST_INPROC_ERROR:
            return ip->fault.error;
        case ST_INPROC_TRUNCATE:
            n = st_card_transmit(ip->card, c, clen, out);
            if (n > ip->fault.len)
                n = ip->fault.len;
            memcpy(r, out, n);
            *rlen = n;
            goto observed;
        default:
            break;
        }
    }
    n = st_card_transmit(ip->card, c, clen, out);
    memcpy(r, out, n);
    *rlen = n;
observed:
    if (ip->observe != NULL)
        ip->observe(ip->observe_arg, c, clen, r, *rlen);
    return ST_OK;
}

static const struct st_transport_ops inproc_ops = {
    .name = "inproc",
    .transmit = inproc_transmit,
};

void st_inproc_init(struct st_inproc *ip, st_card *card, struct st_transport *tr, size_t max_apdu)
{
    memset(ip, 0, sizeof(*ip));
    ip->card = card;
    tr->ops = &inproc_ops;
    tr->ctx = ip;
    tr->max_apdu = max_apdu;
}

void st_inproc_fault(struct st_inproc *ip, enum st_inproc_fault kind, int ins, unsigned skip)
{
    ip->fault.kind = kind;
    ip->fault.ins = ins;
    ip->fault.skip = skip;
}

void st_inproc_fault_sw(struct st_inproc *ip, int ins, unsigned skip, uint16_t sw)
{
    st_inproc_fault(ip, ST_INPROC_SW, ins, skip);
    ip->fault.sw = sw;
}

void st_inproc_fault_bytes(struct st_inproc *ip, int ins, unsigned skip, const uint8_t *bytes,
                           size_t len)
{
    if (len > sizeof(ip->fault.bytes))
        len = sizeof(ip->fault.bytes);
    st_inproc_fault(ip, ST_INPROC_GARBAGE, ins, skip);
    memcpy(ip->fault.bytes, bytes, len);
    ip->fault.len = len;
}

void st_inproc_insert(struct st_inproc *ip)
{
    ip->fault.kind = ST_INPROC_NONE;
    if (ip->removed)
        st_card_power(ip->card, ST_POWER_ON, NULL, 0);
    ip->removed = false;
}
