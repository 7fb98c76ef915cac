/*
 * End of a handshake (gw_auth.h st_gw_auth_finish): the final reason, the
 * metrics and one log line per connection (issue 5 item 2: "every failure is
 * logged with the reason and identity, counted"; IoT.04 M1/M2). Identities,
 * names and OpenSSL strings are escaped; no key material is ever logged.
 */
#include <stdio.h>
#include <string.h>

#include "gw_auth_int.h"
#include "st_log.h"

/* keep_space: spaces stay (a value logged inside quotes), else \x20. */
static void escape(const uint8_t *in, size_t len, char *out, size_t cap, int keep_space)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap == 0)
        return;
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = in[i];
        int plain = (ch > 0x20 || (keep_space && ch == 0x20)) && ch < 0x7f && ch != '\\' &&
                    ch != '"' && ch != '=';
        size_t need = plain ? 1 : 4;
        if (o + need + 1 > cap) {
            /* Truncated: mark it when there is room. */
            if (cap >= 4) {
                if (o > cap - 4)
                    o = cap - 4;
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (plain) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

void gw_escape(const uint8_t *in, size_t len, char *out, size_t cap)
{
    escape(in, len, out, cap, 0);
}

static void esc_str(const char *s, char *out, size_t cap)
{
    gw_escape((const uint8_t *)(s ? s : ""), s ? strlen(s) : 0, out, cap);
}

/* OpenSSL reason strings are prose: logged as error="..." with spaces. */
static void esc_prose(const char *s, char *out, size_t cap)
{
    escape((const uint8_t *)(s ? s : ""), s ? strlen(s) : 0, out, cap, 1);
}

static int final_reason(const struct gw_conn *c, int ok, const char *ssl_error)
{
    int timeout = ssl_error != NULL && strcmp(ssl_error, "timeout") == 0;
    if (ok) {
        /* Completed: a credential must have been accepted (a certificate,
         * or a PSK proven by Finished). Anything else is not a device. */
        if (c->reason == ST_GW_AUTH_OK && c->pub.method != ST_GW_METHOD_NONE)
            return ST_GW_AUTH_OK;
        return c->reason != ST_GW_AUTH_OK ? c->reason : ST_GW_AUTH_NO_CREDENTIAL;
    }
    if (c->psk_ok)
        /* Identity accepted, then the handshake failed: wrong key at
         * Finished (TLS 1.2) or at the binder (TLS 1.3), unless it stalled. */
        return timeout ? ST_GW_AUTH_TIMEOUT : ST_GW_AUTH_BAD_KEY;
    if (c->reason != ST_GW_AUTH_OK)
        return c->reason; /* refused identity or certificate */
    if (c->cert_seen && c->pub.method == ST_GW_METHOD_X509)
        /* Certificate accepted, then a failure (CertificateVerify, Finished). */
        return timeout ? ST_GW_AUTH_TIMEOUT : ST_GW_AUTH_HANDSHAKE;
    if (timeout)
        return ST_GW_AUTH_TIMEOUT;
    /* A ClientHello was understood but the peer offered neither a PSK
     * identity nor a certificate (e.g. no certificate when requested). */
    return c->hello_seen ? ST_GW_AUTH_NO_CREDENTIAL : ST_GW_AUTH_HANDSHAKE;
}

int st_gw_auth_finish(SSL *ssl, int ok, const char *ssl_error, const char *peer, double seconds)
{
    struct gw_conn *c = gw_conn_of(ssl);
    struct st_gw_auth_ctx *a = gw_ctx_of(ssl);
    char epeer[160], eerr[200];
    esc_str(peer, epeer, sizeof(epeer));
    esc_prose(ssl_error, eerr, sizeof(eerr));
    if (c == NULL) {
        if (a != NULL)
            st_gw_metrics_handshake(a->metrics, ST_GW_METHOD_NONE, ST_GW_AUTH_HANDSHAKE, seconds);
        st_warn("handshake refused reason=%s method=none peer=%s error=\"%s\" (not attached)",
                st_gw_auth_reason_name(ST_GW_AUTH_HANDSHAKE), epeer, eerr);
        return ST_GW_AUTH_HANDSHAKE;
    }
    if (c->finished)
        return c->pub.reason;
    c->finished = 1;
    int reason = final_reason(c, ok, ssl_error);
    c->pub.reason = reason;
    if (reason != ST_GW_AUTH_OK)
        c->pub.method = ST_GW_METHOD_NONE;
    int method = reason == ST_GW_AUTH_OK ? c->pub.method : c->attempt;
    if (c->pub.sni[0] == '\0') {
        const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        if (sni != NULL)
            esc_str(sni, c->pub.sni, sizeof(c->pub.sni));
    }
    if (a != NULL)
        st_gw_metrics_handshake(a->metrics, method, reason, seconds);

    /* IDs are registry IDs (no control characters) but may hold spaces. */
    char dev[3 * ST_REG_ID_MAX + 4], grp[3 * ST_REG_ID_MAX + 4], ten[3 * ST_REG_ID_MAX + 4];
    esc_str(c->pub.device_id[0] ? c->pub.device_id : "-", dev, sizeof(dev));
    esc_str(c->pub.group[0] ? c->pub.group : "-", grp, sizeof(grp));
    esc_str(c->pub.tenant[0] ? c->pub.tenant : "-", ten, sizeof(ten));
    const char *ident = c->pub.psk_identity[0] ? c->pub.psk_identity : "-";
    const char *cn = c->pub.subject_cn[0] ? c->pub.subject_cn : "-";
    if (reason == ST_GW_AUTH_OK)
        st_info("handshake ok method=%s device=%s group=%s tenant=%s identity=%s cn=%s "
                "version=%s peer=%s ms=%.1f",
                st_gw_method_name(method), dev, grp, ten, ident, cn, SSL_get_version(ssl), epeer,
                seconds * 1e3);
    else
        st_warn("handshake refused reason=%s method=%s device=%s group=%s tenant=%s identity=%s "
                "cn=%s peer=%s error=\"%s\" ms=%.1f",
                st_gw_auth_reason_name(reason), st_gw_method_name(method), dev, grp, ten, ident,
                cn, epeer, eerr[0] ? eerr : "-", seconds * 1e3);
    return reason;
}
