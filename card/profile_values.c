/*
 * Value sources of a profile: files relative to the profile's directory,
 * PEM to DER, and certificate checks (see docs/profile.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile_internal.h"
#include "st_secret.h"

int st_profile_read_file(const char *base_dir, const char *path, uint8_t **buf, size_t *len,
                         char *why, size_t why_len)
{
    char full[4096];
    int n;
    if (path[0] == '\0') {
        snprintf(why, why_len, "empty path");
        return -1;
    }
    if (path[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
        n = snprintf(full, sizeof(full), "%s", path);
    else
        n = snprintf(full, sizeof(full), "%s/%s", base_dir, path);
    if (n < 0 || (size_t)n >= sizeof(full)) {
        snprintf(why, why_len, "path too long");
        return -1;
    }
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "cannot read %.200s: %s", full, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > ST_PROFILE_FILE_MAX) {
        snprintf(why, why_len, "%.200s is not a regular file of at most %d bytes", full,
                 ST_PROFILE_FILE_MAX);
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1;
    uint8_t *b = malloc(cap);
    size_t got = 0;
    while (b != NULL && got < cap) {
        ssize_t r = read(fd, b + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (b == NULL || got == cap) { /* the file grew while we read it */
        snprintf(why, why_len, "cannot read %.200s", full);
        if (b != NULL)
            st_wipe(b, cap);
        free(b);
        return -1;
    }
    *buf = b;
    *len = got;
    return 0;
}

int st_profile_pem_to_der(const uint8_t *text, size_t len, const char *want, uint8_t *out,
                          size_t cap, size_t *out_len, char *why, size_t why_len)
{
    if (len > INT_MAX) {
        snprintf(why, why_len, "PEM text too large");
        return -1;
    }
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    if (bio == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    size_t n = 0;
    int blocks = 0, rc = 0;
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long dlen = 0;
        if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1)
            break;
        if (want != NULL && strcmp(name, want) != 0) {
            snprintf(why, why_len, "PEM block %d is \"%.40s\", not \"%s\"", blocks + 1, name, want);
            rc = -1;
        } else if (dlen <= 0 || (size_t)dlen > cap - n) {
            snprintf(why, why_len, "PEM content larger than %zu bytes", cap);
            rc = -1;
        } else {
            memcpy(out + n, data, (size_t)dlen);
            n += (size_t)dlen;
            blocks++;
        }
        if (data != NULL)
            OPENSSL_cleanse(data, (size_t)(dlen > 0 ? dlen : 0));
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        if (rc != 0)
            break;
    }
    ERR_clear_error(); /* the end of input is reported as "no start line" */
    BIO_free(bio);
    if (rc == 0 && blocks == 0) {
        snprintf(why, why_len, "no PEM block found");
        rc = -1;
    }
    if (rc == 0)
        *out_len = n;
    return rc;
}

bool st_profile_der_is_certs(const uint8_t *der, size_t len)
{
    const unsigned char *p = der, *end = der + len;
    if (len == 0 || len > LONG_MAX)
        return false;
    while (p < end) {
        const unsigned char *q = p;
        X509 *x = d2i_X509(NULL, &q, (long)(end - p));
        if (x == NULL || q <= p) {
            X509_free(x);
            ERR_clear_error();
            return false;
        }
        X509_free(x);
        p = q;
    }
    return true;
}
