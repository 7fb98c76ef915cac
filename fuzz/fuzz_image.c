/*
 * Fuzzes the card image decoder (card/image.c). An input that starts with
 * "STCARD" is decoded as it is (header, length and digest checks); any other
 * input is taken as a payload and sealed with a valid header and SHA-256
 * trailer first, so the fuzzer reaches the record parser instead of
 * stopping at the digest. A decoded image must re-encode to an image that
 * decodes to the same bytes again (the encoding is canonical).
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAYLOAD_MAX (128 * 1024)

/* Header + payload + digest around data (version 1, no flags). */
static uint8_t *seal(const uint8_t *data, size_t size, size_t *len)
{
    uint8_t *b = malloc(16 + size + 32);
    if (b == NULL)
        return NULL;
    memcpy(b, "STCARD\r\n\x00\x01\x00\x00", 12);
    b[12] = (uint8_t)(size >> 24);
    b[13] = (uint8_t)(size >> 16);
    b[14] = (uint8_t)(size >> 8);
    b[15] = (uint8_t)size;
    if (size > 0)
        memcpy(b + 16, data, size);
    unsigned int dl = 0;
    if (EVP_Digest(b, 16 + size, b + 16 + size, &dl, EVP_sha256(), NULL) != 1) {
        free(b);
        return NULL;
    }
    *len = 16 + size + 32;
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct st_card_state s, again;
    char err[256];
    uint8_t *sealed = NULL;
    const uint8_t *img = data;
    size_t len = size;
    if (size > PAYLOAD_MAX)
        return 0;
    if (size < 6 || memcmp(data, "STCARD", 6) != 0) {
        sealed = seal(data, size, &len);
        if (sealed == NULL)
            return 0;
        img = sealed;
    }
    if (st_image_decode(img, len, &s, err, sizeof(err)) == 0) {
        uint8_t *e1, *e2;
        size_t l1, l2;
        if (st_image_encode(&s, &e1, &l1) != 0)
            abort();
        if (st_image_decode(e1, l1, &again, err, sizeof(err)) != 0)
            abort(); /* a decoded state must always encode to a loadable image */
        if (st_image_encode(&again, &e2, &l2) != 0)
            abort();
        if (l1 != l2 || memcmp(e1, e2, l1) != 0)
            abort();
        st_image_free_buf(e1, l1);
        st_image_free_buf(e2, l2);
    } else if (err[0] == '\0') {
        abort(); /* every refusal gives a reason */
    }
    free(sealed);
    return 0;
}
