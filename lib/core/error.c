/*
 * Status codes: descriptions, layers, and the status-word table (see
 * simtrust/error.h). The SW list is the IoT SAFE one (reference §2.16) plus
 * the ISO 7816-4 words cards answer to generic mistakes.
 */
#include <stddef.h>
#include <stdint.h>

#include "simtrust/error.h"

struct status_text {
    int status;
    const char *text;
};

static const struct status_text texts[] = {
    {ST_OK, "success"},
    {ST_E_ARG, "usage: invalid argument"},
    {ST_E_BUFFER, "usage: output buffer too small"},
    {ST_E_STATE, "usage: call not valid in this state"},
    {ST_E_UNSUPPORTED, "usage: not supported by the transport or the card"},
    {ST_E_NOT_FOUND, "usage: no such object on the card"},
    {ST_E_IO, "transport: input/output error"},
    {ST_E_TIMEOUT, "transport: timed out"},
    {ST_E_NO_READER, "transport: reader or device absent"},
    {ST_E_NO_CARD, "transport: card absent or removed"},
    {ST_E_MODEM, "transport: the modem answered ERROR"},
    {ST_E_LINK_CLOSED, "transport: the peer closed the connection"},
    {ST_E_CARD, "card: command failed"},
    {ST_E_CARD_WRONG_LENGTH, "card: wrong length"},
    {ST_E_CARD_SECURITY, "card: security status not satisfied"},
    {ST_E_CARD_CONDITIONS, "card: conditions of use not satisfied"},
    {ST_E_CARD_INCORRECT_DATA, "card: incorrect data"},
    {ST_E_CARD_NOT_FOUND, "card: file or reference not found"},
    {ST_E_CARD_P1P2, "card: incorrect P1/P2"},
    {ST_E_CARD_INS, "card: instruction not supported"},
    {ST_E_CARD_CLA, "card: class not supported"},
    {ST_E_CARD_SIGNATURE, "card: signature does not verify"},
    {ST_E_CARD_MEMORY, "card: memory failure or insufficient memory"},
    {ST_E_CARD_CHANNEL, "card: logical channel not supported or none left"},
    {ST_E_CARD_FILE_RANGE, "card: offset beyond the end of the file"},
    {ST_E_CARD_REMOTE_ADMIN, "card: object locked by remote administration"},
    {ST_E_PARSE, "parse: malformed answer"},
};

const char *st_strerror(int status)
{
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i].status == status)
            return texts[i].text;
    return "unknown status";
}

const char *st_error_layer(int status)
{
    if (status == ST_OK)
        return "ok";
    switch (-status / 100) {
    case 1:
        return "usage";
    case 2:
        return "transport";
    case 3:
        return "card";
    case 4:
        return "parse";
    default:
        return "unknown";
    }
}

/* Exact status words (the IoT SAFE list and ISO 7816-4). */
static const struct {
    uint16_t sw;
    int16_t status;
} sw_table[] = {
    {0x6400, ST_E_CARD_MEMORY}, /* integrity issue (applet store) */
    {0x6581, ST_E_CARD_MEMORY}, /* memory failure */
    {0x6700, ST_E_CARD_WRONG_LENGTH},
    {0x6881, ST_E_CARD_CHANNEL},    /* logical channel not supported */
    {0x6981, ST_E_CARD_FILE_RANGE}, /* READ FILE offset out of bounds */
    {0x6982, ST_E_CARD_SECURITY},
    {0x6984, ST_E_CARD_REMOTE_ADMIN}, /* referenced data invalidated (remote admin) */
    {0x6985, ST_E_CARD_CONDITIONS},
    {0x6989, ST_E_CARD_REMOTE_ADMIN}, /* remote admin completed, command failed */
    {0x6A80, ST_E_CARD_INCORRECT_DATA},
    {0x6A82, ST_E_CARD_NOT_FOUND},
    {0x6A84, ST_E_CARD_MEMORY}, /* insufficient memory */
    {0x6A86, ST_E_CARD_P1P2},
    {0x6B00, ST_E_CARD_P1P2}, /* wrong parameters P1-P2 */
    {0x6D00, ST_E_CARD_INS},
    {0x6D01, ST_E_CARD_SIGNATURE}, /* IoT SAFE: signature mismatch */
    {0x6E00, ST_E_CARD_CLA},
};

st_status st_status_from_sw(unsigned sw)
{
    if (sw == 0x9000 || (sw >> 8) == 0x91 || sw == 0x63CF)
        return ST_OK;
    for (size_t i = 0; i < sizeof(sw_table) / sizeof(sw_table[0]); i++)
        if (sw_table[i].sw == sw)
            return (st_status)sw_table[i].status;
    if ((sw >> 8) == 0x67)
        return ST_E_CARD_WRONG_LENGTH; /* 67xx: wrong length, details in SW2 */
    return ST_E_CARD;
}
