/*
 * Status words the card answers (ISO 7816-4 and the IoT SAFE list, see
 * docs/card.md and ../shared/reference/iot-safe-interface.md §2.16).
 */
#ifndef SIMTRUST_CARD_SW_H
#define SIMTRUST_CARD_SW_H

#define SW_OK 0x9000
#define SW_MORE_DATA 0x6300          /* GET DATA object list continues (P2=01) */
#define SW_INTEGRITY 0x6400          /* card image store failed to persist */
#define SW_MEMORY_FAILURE 0x6581     /* write to the persistent store failed */
#define SW_WRONG_LENGTH 0x6700
#define SW_LOGICAL_CHANNEL 0x6881    /* channel not supported / not open */
#define SW_FILE_INCOMPATIBLE 0x6981  /* READ FILE offset beyond the file */
#define SW_CONDITIONS 0x6985         /* conditions of use not satisfied */
#define SW_SECURITY 0x6982           /* access condition (tag 60) forbids it */
#define SW_INCORRECT_DATA 0x6A80
#define SW_FUNC_NOT_SUPPORTED 0x6A81
#define SW_NOT_FOUND 0x6A82
#define SW_NO_MEMORY 0x6A84
#define SW_INCORRECT_P1P2 0x6A86
#define SW_INS_NOT_SUPPORTED 0x6D00
#define SW_SIGNATURE_MISMATCH 0x6D01
#define SW_CLA_NOT_SUPPORTED 0x6E00
#define SW_UNKNOWN 0x6F00

#endif
