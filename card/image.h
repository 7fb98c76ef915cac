/*
 * The card image: the persistent state of one simtrust-card in one file.
 *
 * Format (version 1, all integers big-endian):
 *   "STCARD\r\n" magic (8) | u16 version | u16 flags | u32 payload length |
 *   payload (TLV records, see image.c) | SHA-256 of everything before it (32)
 * A reader refuses another magic, a newer version, a length that does not
 * match the file, or a bad digest: a corrupt image is never half-loaded.
 *
 * Atomicity (what Java Card transactions promise): st_image_save() writes a
 * complete new image to "<path>.tmp", fsyncs it, renames it over <path> and
 * fsyncs the directory. A cut anywhere leaves either the old file (plus a
 * stray .tmp that st_image_load() ignores) or the new one.
 */
#ifndef SIMTRUST_CARD_IMAGE_H
#define SIMTRUST_CARD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "objects.h"

#define ST_IMAGE_VERSION 1

/*
 * The file operations a save uses, so a test can cut the sequence at any
 * point (tests/card/test_tearing.c). Each returns 0 on success, -1 on error
 * (errno set). st_image_posix_io is the real implementation.
 */
struct st_image_io {
    int (*open_tmp)(void *ctx, const char *tmp_path);          /* returns fd or -1 */
    long (*write)(void *ctx, int fd, const void *buf, size_t n); /* bytes written or -1 */
    int (*fsync)(void *ctx, int fd);
    int (*close)(void *ctx, int fd);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*fsync_dir)(void *ctx, const char *path);
    void *ctx;
};

extern const struct st_image_io st_image_posix_io;

/*
 * Serialises the persistent part of s (volatile key values excluded) into a
 * new malloc'd buffer. Returns 0 and sets buf and len, or -1 on allocation
 * failure. The caller releases it with st_image_free_buf, which wipes it.
 */
int st_image_encode(const struct st_card_state *s, uint8_t **buf, size_t *len);
void st_image_free_buf(uint8_t *buf, size_t len);

/*
 * Parses an image. Returns 0 and fills *s, or -1 with a reason in err. On
 * failure *s is left untouched.
 */
int st_image_decode(const uint8_t *buf, size_t len, struct st_card_state *s, char *err,
                    size_t err_len);

/* Writes s to path atomically through io (NULL = POSIX). 0 or -1 with err. */
int st_image_save(const char *path, const struct st_card_state *s, const struct st_image_io *io,
                  char *err, size_t err_len);

/* Reads and decodes path. 0 or -1 with err (missing, corrupt, version). */
int st_image_load(const char *path, struct st_card_state *s, char *err, size_t err_len);

#endif
