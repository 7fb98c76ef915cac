/* Small helpers of the data plane: addresses and OpenSSL errors for log lines. */
#include "gw_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdio.h>

void st_gw_addr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(buf, cap, "%s:%u", host, ntohs(a->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(buf, cap, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        snprintf(buf, cap, "unknown");
    }
}

const char *st_gw_ssl_errstr(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    const char *r;
    if (e == 0) {
        snprintf(buf, cap, "closed");
    } else {
        r = ERR_reason_error_string(e);
        if (r)
            snprintf(buf, cap, "%s", r);
        else
            snprintf(buf, cap, "error %lx", e);
    }
    ERR_clear_error();
    return buf;
}

/* Reasons that mean "the peer did not speak (D)TLS correctly" rather than
 * "its credential was refused": garbage, plain HTTP, truncated or oversized
 * records, messages out of order. Counted as PROTOCOL refusals. */
int st_gw_ssl_err_is_protocol(unsigned long e)
{
    if (e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL)
        return 0;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
    case SSL_R_DATA_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_LENGTH_MISMATCH:
    case SSL_R_LENGTH_TOO_SHORT:
    case SSL_R_LENGTH_TOO_LONG:
    case SSL_R_BAD_PACKET_LENGTH:
    case SSL_R_BAD_LENGTH:
    case SSL_R_BAD_PACKET:
    case SSL_R_EXCESSIVE_MESSAGE_SIZE:
    case SSL_R_UNEXPECTED_MESSAGE:
    case SSL_R_UNEXPECTED_RECORD:
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
    case SSL_R_RECORD_TOO_SMALL:
    case SSL_R_BAD_RECORD_TYPE:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_BAD_HANDSHAKE_LENGTH:
        return 1;
    default:
        return 0;
    }
}
