/*
 * PC/SC return codes as transport codes: mapped once, here, at the edge
 * (the OpenSC reader-pcsc.c approach, reference style-examples §2). The
 * PC/SC code itself stays with the transport for messages.
 */
#include <PCSC/winscard.h>

#include "simtrust/error.h"
#include "simtrust/pcsc.h"

int st_pcsc_map_error(long rv)
{
    switch ((LONG)rv) {
    case SCARD_S_SUCCESS:
        return ST_OK;

    /* The card is gone or cannot be talked to any more. */
    case SCARD_W_REMOVED_CARD:
    case SCARD_E_NO_SMARTCARD:
    case SCARD_W_UNPOWERED_CARD:
    case SCARD_W_UNRESPONSIVE_CARD:
    case SCARD_W_UNSUPPORTED_CARD:
    case SCARD_E_CARD_UNSUPPORTED:
        return ST_E_NO_CARD;

    /* The reader, or the whole PC/SC service, is gone. */
    case SCARD_E_READER_UNAVAILABLE:
    case SCARD_E_NO_READERS_AVAILABLE:
    case SCARD_E_UNKNOWN_READER:
    case SCARD_E_NO_SERVICE:
    case SCARD_E_SERVICE_STOPPED:
        return ST_E_NO_READER;

    case SCARD_E_TIMEOUT:
    case SCARD_F_WAITED_TOO_LONG:
        return ST_E_TIMEOUT;

    /*
     * Another application reset the card: what was selected and every
     * logical channel are lost. The transport reconnects and reports it as
     * a closed link, so the session above starts again.
     */
    case SCARD_W_RESET_CARD:
        return ST_E_LINK_CLOSED;

    case SCARD_E_INVALID_PARAMETER:
    case SCARD_E_INVALID_VALUE:
        return ST_E_ARG;

    default:
        /* Sharing violations, protocol mismatches, communication errors... */
        return ST_E_IO;
    }
}
