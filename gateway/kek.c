/* File/in-process AES-256-GCM key-encryption key (the PKCS#11 seam is kek.h). */
#include "kek.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st_secret.h"

struct file_kek {
    uint8_t key[32];
};

static int gcm_seal(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                    size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
    struct file_kek *k = ctx;
    int ok = 0, n = 0;
    if (pt_len > 4096 || cap < pt_len + ST_GW_SEAL_OVERHEAD || aad_len > 4096)
        return -1;
    out[0] = ST_GW_SEAL_VERSION;
    if (RAND_bytes(out + 1, 12) != 1)
        return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, out + 1) == 1 &&
        (aad_len == 0 || EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1) &&
        EVP_EncryptUpdate(c, out + 13, &n, pt, (int)pt_len) == 1 && (size_t)n == pt_len &&
        EVP_EncryptFinal_ex(c, out + 13 + n, &n) == 1 && n == 0 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 13 + pt_len) == 1)
        ok = 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok)
        return -1;
    *out_len = pt_len + ST_GW_SEAL_OVERHEAD;
    return 0;
}

static int gcm_open(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *blob,
                    size_t blob_len, uint8_t *out, size_t cap, size_t *out_len)
{
    struct file_kek *k = ctx;
    int ok = 0, n = 0, m = 0;
    if (blob_len < ST_GW_SEAL_OVERHEAD || blob[0] != ST_GW_SEAL_VERSION || aad_len > 4096)
        return -1;
    size_t ct_len = blob_len - ST_GW_SEAL_OVERHEAD;
    if (ct_len > cap || ct_len > 4096)
        return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c != NULL && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, blob + 1) == 1 &&
        (aad_len == 0 || EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1) &&
        EVP_DecryptUpdate(c, out, &n, blob + 13, (int)ct_len) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(blob + 13 + ct_len)) == 1 &&
        EVP_DecryptFinal_ex(c, out + n, &m) == 1 && (size_t)(n + m) == ct_len)
        ok = 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        st_wipe(out, ct_len);
        return -1;
    }
    *out_len = ct_len;
    return 0;
}

static void file_free(void *ctx)
{
    if (ctx != NULL) {
        st_wipe(ctx, sizeof(struct file_kek));
        free(ctx);
    }
}

static const struct st_gw_kek_ops k_file_ops = {gcm_seal, gcm_open, file_free};

struct st_gw_kek *st_gw_kek_from_bytes(const uint8_t key[32])
{
    struct st_gw_kek *kek = calloc(1, sizeof(*kek));
    struct file_kek *fk = calloc(1, sizeof(*fk));
    if (kek == NULL || fk == NULL) {
        free(kek);
        free(fk);
        return NULL;
    }
    memcpy(fk->key, key, 32);
    kek->ops = &k_file_ops;
    kek->ctx = fk;
    return kek;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

struct st_gw_kek *st_gw_kek_from_file(const char *path, const char **why)
{
    uint8_t raw[80], key[32];
    struct stat st;
    struct st_gw_kek *kek = NULL;
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        close(fd);
        return NULL;
    }
    if (st.st_mode & 077) {
        *why = "readable by group or others (chmod 600)";
        close(fd);
        return NULL;
    }
    ssize_t n = read(fd, raw, sizeof(raw));
    close(fd);
    if (n == 32) {
        memcpy(key, raw, 32);
    } else if (n == 64 || (n == 65 && raw[64] == '\n')) {
        for (int i = 0; i < 32; i++) {
            int hi = hexval(raw[2 * i]), lo = hexval(raw[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                *why = "not 32 raw bytes or 64 hex digits";
                goto out;
            }
            key[i] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        *why = "not 32 raw bytes or 64 hex digits";
        goto out;
    }
    kek = st_gw_kek_from_bytes(key);
    if (kek == NULL)
        *why = "out of memory";
out:
    st_wipe(raw, sizeof(raw));
    st_wipe(key, sizeof(key));
    return kek;
}

void st_gw_kek_free(struct st_gw_kek *kek)
{
    if (kek == NULL)
        return;
    if (kek->ops && kek->ops->free)
        kek->ops->free(kek->ctx);
    free(kek);
}
