# Card core: parsing, channels, SELECT, GET RESPONSE, GET DATA, READ FILE.
st_add_unit_test(test_card_core ${CMAKE_CURRENT_SOURCE_DIR}/card/test_core.c
                 LIBS simtrust_card LABELS card)
