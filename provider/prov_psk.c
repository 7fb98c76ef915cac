/*
 * PSK placeholders (docs/provider.md "PSK mode"; IoT.04 I9, J1-J3, K1).
 *
 * libssl needs PSK bytes; it is given a placeholder instead: 32 random bytes
 * drawn per process and per secret key label, mapped here to the card's
 * secret key object. The provider's TLS1-PRF / TLS13-KDF (prov_kdf.c) look
 * the placeholder up and compute on the card; outside this process the
 * placeholder means nothing. The registry is wiped when the last provider
 * instance goes away and at process exit.
 *
 * PSK identities: IoT SAFE has no identity attribute, so the identity is the
 * file object with the secret key's label (docs/profile.md), read with READ
 * FILE through the provider's card session and cached there.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "prov.h"

#define ST_PSK_MAX 8
#define ST_PSK_LABEL_MAX 60
#define ST_PSK_MAX_PROVS 8

struct psk_entry {
    bool used;
    char label[ST_PSK_LABEL_MAX + 1];
    uint8_t ph[ST_PROV_PSK_PLACEHOLDER_LEN];
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct psk_entry reg[ST_PSK_MAX];
static struct st_prov *provs[ST_PSK_MAX_PROVS];

static void wipe_locked(void)
{
    OPENSSL_cleanse(reg, sizeof(reg));
}

__attribute__((destructor)) static void psk_wipe_at_exit(void)
{
    pthread_mutex_lock(&reg_mu);
    wipe_locked();
    pthread_mutex_unlock(&reg_mu);
}

void st_prov_psk_attach(struct st_prov *prov)
{
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < ST_PSK_MAX_PROVS; i++)
        if (provs[i] == NULL) {
            provs[i] = prov;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
}

void st_prov_psk_detach(struct st_prov *prov)
{
    bool any = false;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < ST_PSK_MAX_PROVS; i++) {
        if (provs[i] == prov)
            provs[i] = NULL;
        any |= provs[i] != NULL;
    }
    if (!any)
        wipe_locked(); /* unloaded: the placeholders die with the provider */
    pthread_mutex_unlock(&reg_mu);
}

static int fill_random(uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);
        if (n <= 0)
            return 0;
        buf += n;
        len -= (size_t)n;
    }
    return 1;
}

int st_prov_psk_placeholder(const char *label, uint8_t ph[ST_PROV_PSK_PLACEHOLDER_LEN])
{
    size_t n = label != NULL ? strlen(label) : 0;
    if (n == 0 || n > ST_PSK_LABEL_MAX)
        return 0;
    int ok = 0;
    pthread_mutex_lock(&reg_mu);
    struct psk_entry *free_e = NULL;
    for (size_t i = 0; i < ST_PSK_MAX; i++) {
        if (reg[i].used && strcmp(reg[i].label, label) == 0) {
            memcpy(ph, reg[i].ph, ST_PROV_PSK_PLACEHOLDER_LEN);
            ok = 1;
            goto out;
        }
        if (!reg[i].used && free_e == NULL)
            free_e = &reg[i];
    }
    if (free_e != NULL && fill_random(free_e->ph, sizeof(free_e->ph))) {
        free_e->used = true;
        memcpy(free_e->label, label, n + 1);
        memcpy(ph, free_e->ph, ST_PROV_PSK_PLACEHOLDER_LEN);
        ok = 1;
    }
out:
    pthread_mutex_unlock(&reg_mu);
    return ok;
}

bool st_prov_psk_lookup(const uint8_t *buf, size_t len, struct st_iotsafe_ref *ref)
{
    if (buf == NULL || len != ST_PROV_PSK_PLACEHOLDER_LEN)
        return false;
    bool found = false;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < ST_PSK_MAX; i++)
        if (reg[i].used && CRYPTO_memcmp(reg[i].ph, buf, len) == 0) {
            found = st_iotsafe_ref_label(ref, reg[i].label, strlen(reg[i].label)) == ST_OK;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    return found;
}

bool st_prov_psk_contains(const uint8_t *buf, size_t len)
{
    bool found = false;
    pthread_mutex_lock(&reg_mu);
    for (size_t e = 0; e < ST_PSK_MAX && !found; e++) {
        if (!reg[e].used)
            continue;
        for (size_t i = 0; buf != NULL && i + ST_PROV_PSK_PLACEHOLDER_LEN <= len && !found; i++)
            found = CRYPTO_memcmp(reg[e].ph, buf + i, ST_PROV_PSK_PLACEHOLDER_LEN) == 0;
    }
    pthread_mutex_unlock(&reg_mu);
    return found;
}

int st_prov_psk_identity(const char *label, char *id, size_t *id_len)
{
    struct st_prov *prov = NULL;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < ST_PSK_MAX_PROVS && prov == NULL; i++)
        prov = provs[i];
    pthread_mutex_unlock(&reg_mu);
    if (prov == NULL)
        return 0; /* no provider loaded: the caller raises */
    struct st_iotsafe_ref ref;
    if (st_iotsafe_ref_label(&ref, label, strlen(label)) != ST_OK) {
        st_prov_err(prov, ST_PROV_R_PSK, "bad PSK label \"%s\"", label);
        return 0;
    }
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = st_prov_card_read_file(prov->card, &ref, &buf, &n);
    if (rc == ST_E_NOT_FOUND || rc == ST_E_CARD_NOT_FOUND) {
        st_prov_err(prov, ST_PROV_R_PSK,
                    "no PSK identity on the SIM: no file object labelled \"%s\" (%s)", label,
                    st_strerror(rc));
        return 0;
    }
    if (rc != ST_OK) {
        st_prov_card_err(prov, rc, "READ FILE (PSK identity)");
        return 0;
    }
    /* The identity: printable bytes, no NUL, 1..*id_len-1 (TLS: 1..2^16-1; OpenSSL 256). */
    bool ok = n > 0 && n < *id_len && memchr(buf, 0, n) == NULL;
    if (ok) {
        memcpy(id, buf, n);
        id[n] = '\0';
        *id_len = n;
    } else {
        st_prov_err(prov, ST_PROV_R_PSK, "PSK identity file \"%s\": %zu bytes, not 1 to %zu "
                    "without NUL", label, n, *id_len - 1);
    }
    free(buf);
    return ok;
}
