/*
 * Fuzzes the profile reader (card/profile.c): any input must be refused
 * with a reason or built into a state that saves as a loadable image. File
 * sources point into a directory that does not exist, so only inline
 * values ("hex", "pem", "generate") are reached.
 */
#include <stdint.h>
#include <stdlib.h>

#include "image.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct st_card_state s, back;
    char err[512];
    err[0] = '\0';
    if (size > 64 * 1024)
        return 0;
    if (st_profile_build((const char *)data, size, "/nonexistent/simtrust-fuzz", &s, err,
                         sizeof(err)) != 0) {
        if (err[0] == '\0')
            abort(); /* every refusal names its reason */
        return 0;
    }
    uint8_t *img;
    size_t len;
    if (st_image_encode(&s, &img, &len) != 0)
        abort();
    if (st_image_decode(img, len, &back, err, sizeof(err)) != 0)
        abort(); /* a valid profile always gives a loadable card */
    st_image_free_buf(img, len);
    return 0;
}
